import * as Flags from '@oclif/core/flags'

/** --runtime, shared by every command that talks to an engine. */
export const runtimeFlag = Flags.string({
  description:
    'Container engine to use: docker or podman (or a plugin runtime). Default: STIGMER_CONTAINER_RUNTIME, the config file, else Docker if it answers, then Podman.',
  helpGroup: 'ENGINE',
})

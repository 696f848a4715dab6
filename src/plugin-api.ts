/**
 * The plugin API: everything a stigmer plugin may import, and nothing else.
 *
 *     import {StigmerCommand, getRuntime, runtimeFlag, Flags} from '@stigmer/cli/plugin-api'
 *
 * A plugin can
 * - add commands: extend `StigmerCommand` (it owns `--json`, error rendering with
 *   the exit codes in `ExitCode`, and Ctrl-C) and reach the engine with `getRuntime`
 *   or `this.runtime(flags.runtime)`, the same `ContainerRuntime` the built-in
 *   commands use (detected once per process, shared with the host);
 * - add a container engine: answer the `stigmer:runtimes` hook with one or more
 *   `RuntimeProvider`s; `--runtime NAME`, `STIGMER_CONTAINER_RUNTIME` and detection
 *   then offer it after Docker and Podman.
 *
 * `Flags` and `Args` are the host's own @oclif/core helpers, so a plugin needs no
 * dependency of its own to declare flags. How a plugin finds this module at run
 * time (the host CLI, not a second copy) is in docs/plugins.md.
 *
 * Anything not exported here is internal and may change in any release.
 */
import type {Hook} from '@oclif/core'

import type {ResolvedRuntime, SelectOptions} from './engine/choose.js'
import type {RuntimeProvider} from './engine/types.js'

import {getRuntime as chooseAndCreate} from './engine/choose.js'
import {rememberedEngine} from './server/state.js'

export {DOCKER_CAPABILITIES, PODMAN_CAPABILITIES} from './adapters/capabilities.js'
export {dockerProvider, podmanProvider} from './adapters/providers.js'

export {StigmerCommand} from './base-command.js'
export {genericCapabilities} from './engine/capabilities.js'
export {
  type ChoiceReason,
  choiceWords,
  chooseEngine,
  type EngineDecision,
  type ResolvedRuntime,
  runtimeProviders,
  type SelectOptions,
} from './engine/choose.js'
export type {Candidate, MachineView, Strategy} from './engine/detection/strategies.js'
export {RuntimeError, type RuntimeErrorReason} from './engine/errors.js'
export type * from './engine/types.js'
export {
  type ErrorKind,
  InterruptedError,
  isAbortError,
  messageOf,
  StigmerError,
  type StigmerErrorOptions,
  usageError,
} from './lib/errors.js'
export {ExitCode, type ExitCodeName} from './lib/exit-codes.js'
export {runtimeFlag} from './lib/flags.js'
export {HOST_GLOBAL, type HostInfo} from './lib/host.js'
export {parseImageRef} from './lib/image-ref.js'
export {canConnect, grpcAnswers} from './lib/tcp.js'
/**
 * The engine for this process, detected once and shared with the CLI's own commands.
 * `useRemembered: true` prefers the engine the last `server start` ran on (as `server status`
 * does); the engine choice itself (src/engine/choose.ts) takes a reader of that record instead.
 */
export function getRuntime(options: SelectOptions & {useRemembered?: boolean} = {}): Promise<ResolvedRuntime> {
  const {useRemembered, ...rest} = options
  return chooseAndCreate(useRemembered ? {...rest, remembered: rest.remembered ?? rememberedEngine} : rest)
}

export * as Args from '@oclif/core/args'
export * as Flags from '@oclif/core/flags'

/** The version of this API. A plugin may check `semver.satisfies(PLUGIN_API_VERSION, '^1')`. */
export const PLUGIN_API_VERSION = '1.2.0'

/** The hook event a runtime-contributing plugin answers. */
export const RUNTIMES_HOOK = 'stigmer:runtimes'

/** What a `stigmer:runtimes` hook receives and returns. */
export interface RuntimesHookMeta {
  options: Record<string, never>
  return: RuntimeProvider | RuntimeProvider[]
}

declare module '@oclif/core/hooks' {
  interface Hooks {
    'stigmer:runtimes': RuntimesHookMeta
  }
}

/**
 * The type of a `stigmer:runtimes` hook:
 *
 *     const hook: RuntimesHook = async () => ({...dockerProvider, name: 'docker-alias'})
 *     export default hook
 */
export type RuntimesHook = Hook<'stigmer:runtimes'>

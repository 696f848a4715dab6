import type {Hook} from '@oclif/core'

/**
 * Before a command that declares `needsRuntime`, find a usable engine or stop
 * with the right message and exit code (10 none installed, 11 not running,
 * 12 permission denied). Other commands pay only for this file's import.
 */
const hook: Hook<'prerun'> = async function (options) {
  const command = options.Command as unknown as {needsRuntime?: boolean; useRememberedRuntime?: boolean}
  if (!command.needsRuntime) return
  if (options.argv.includes('--help') || options.argv.includes('-h')) return
  const [{getRuntime, runtimeFlagFromArgv}, {rememberedEngine}] = await Promise.all([
    import('../../engine/choose.js'),
    import('../../server/state.js'),
  ])
  try {
    await getRuntime({
      config: options.config,
      flag: runtimeFlagFromArgv(options.argv),
      remembered: command.useRememberedRuntime ? rememberedEngine : undefined,
    })
  } catch (error) {
    const {toStigmerError, writeError} = await import('../../ui/render-error.js')
    const failure = toStigmerError(error)
    writeError(failure, options.argv.includes('--json'))
    // A plain throw in an oclif hook is swallowed; exit() carries the code out.
    this.exit(failure.exit)
  }
}

export default hook

import type {Hook} from '@oclif/core'

/**
 * Before a command that declares `needsImage` (server start), pull the
 * agent-runner image when it is missing, with the one-time-setup message, its
 * download size and a progress bar. Ctrl-C stops it (exit 130).
 */
const hook: Hook<'prerun'> = async function (options) {
  const command = options.Command as unknown as {
    baseFlags?: Record<string, unknown>
    flags?: Record<string, unknown>
    needsImage?: boolean
  }
  if (!command.needsImage) return
  const argv = options.argv
  if (argv.includes('--help') || argv.includes('-h')) return
  const [
    Flags,
    Parser,
    {getRuntime, runtimeFlagFromArgv},
    {resolveImage},
    {loadConfig},
    {stigmerPaths},
    {needsFirstRunPull, firstRunPull},
    {toStigmerError, writeError},
    {InterruptedError},
    {parseDurationSeconds},
    {reporterFor},
  ] = await Promise.all([
    import('@oclif/core/flags'),
    import('@oclif/core/parser'),
    import('../../services/runtime.js'),
    import('../../services/image-resolution.js'),
    import('../../lib/config.js'),
    import('../../lib/paths.js'),
    import('../../services/first-run.js'),
    import('../../lib/render-error.js'),
    import('../../lib/errors.js'),
    import('../../lib/format.js'),
    import('../../ui/pull-reporter.js'),
  ])
  const json = argv.includes('--json')
  const controller = new AbortController()
  let interrupts = 0
  const onSigint = () => {
    interrupts++
    if (interrupts > 1) process.exit(130)
    if (!json) process.stderr.write('\nInterrupted: stopping the download (press Ctrl-C again to exit now)...\n')
    controller.abort(new InterruptedError())
  }

  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)
  try {
    const allFlags = {...command.baseFlags, ...command.flags, json: Flags.boolean()}
    const {flags} = await Parser.parse(argv, {flags: allFlags as never, strict: false})
    const f = flags as {
      image?: string
      pull?: 'always' | 'missing' | 'never'
      'pull-timeout'?: string
      'use-local-image'?: boolean
    }
    const paths = stigmerPaths()
    const config = await loadConfig(paths.configFile)
    const image = resolveImage({
      cliVersion: options.config.version,
      config,
      imageFlag: f.image,
      useLocalImage: f['use-local-image'],
    })
    const {runtime} = await getRuntime({config: options.config, flag: runtimeFlagFromArgv(argv), useRemembered: true})
    // The command asks the engine's info first thing: asked now, beside the image check, it is
    // there when the command wants it (the adapter shares one answer).
    runtime.info().catch(() => {})
    const present = await runtime.imageExists(image.ref)
    if (
      !needsFirstRunPull({
        imagePresent: present,
        pullPolicy: f.pull ?? config.pull ?? 'missing',
        useLocalImage: Boolean(f['use-local-image']),
      })
    )
      return
    const timeoutSeconds =
      (f['pull-timeout'] ? parseDurationSeconds(f['pull-timeout']) : undefined) ?? config.pullTimeoutSeconds ?? 300
    await firstRunPull(runtime, image.ref, {
      markersDir: paths.markersDir,
      reporter: reporterFor({json}),
      say: (line) => json || process.stderr.write(line + '\n'),
      signal: controller.signal,
      timeoutMs: timeoutSeconds * 1000,
    })
  } catch (error) {
    const failure = controller.signal.aborted
      ? new InterruptedError('Interrupted while downloading the agent-runner image; nothing was started')
      : toStigmerError(error)
    writeError(failure, json)
    this.exit(failure.exit)
  } finally {
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
  }
}

export default hook

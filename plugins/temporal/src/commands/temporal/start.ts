import {api} from '../../host.js'
import {DEFAULT_IMAGE, DEFAULT_PORT, networkProblem, type StartResult, startTemporal} from '../../temporal.js'

const {Flags} = api

export default class TemporalStart extends api.StigmerCommand {
  static override description = `Runs \`temporal server start-dev\` in a container named stigmer-temporal on the engine stigmer uses (Docker or Podman, or --runtime), with host networking, and waits until localhost:7233 answers: what \`stigmer server start\` expects by default. The web UI is on localhost:8233. The server keeps its data in memory: \`stigmer temporal stop\` discards it.

Already running with the same image and port: nothing to do. Something else on the port: exit 1 with what to do. The image is pulled once when missing.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> && <%= config.bin %> server start',
    '<%= config.bin %> <%= command.id %> --port 17233 --runtime podman --json',
  ]
  static override flags = {
    image: Flags.string({
      default: DEFAULT_IMAGE,
      description: 'Image to run; its entrypoint must be the temporal CLI.',
    }),
    network: Flags.string({
      description:
        'Use host networking even where the engine runs in a VM (Docker Desktop with host networking turned on).',
      options: ['host'],
    }),
    port: Flags.integer({default: DEFAULT_PORT, description: 'gRPC port on localhost.', max: 65_534, min: 1}),
    runtime: api.runtimeFlag,
    timeout: Flags.integer({default: 60, description: 'Seconds to wait for the port to answer.', min: 1}),
    'ui-port': Flags.integer({description: 'Web UI port (default: port + 1000).', max: 65_535, min: 1}),
  }
  static override needsRuntime = true
  static override summary = 'Start a Temporal development server container (localhost:7233).'

  async run(): Promise<StartResult> {
    const {flags} = await this.parse(TemporalStart)
    const {runtime} = await this.runtime(flags.runtime)
    const engine = await runtime.info()
    const problem = networkProblem({displayName: runtime.displayName, inVm: engine.inVm}, flags.network === 'host')
    if (problem) {
      throw new api.StigmerError(problem, {
        code: 'TEMPORAL_NETWORK',
        exit: api.ExitCode.USAGE,
        kind: 'user',
        suggestions: [
          'Run Temporal on this machine instead: brew install temporal && temporal server start-dev',
          'Or turn on host networking in Docker Desktop (Settings > Resources > Network), then: stigmer temporal start --network host',
        ],
      })
    }

    const uiPort = flags['ui-port'] ?? flags.port + 1000
    const result = await startTemporal(
      {image: flags.image, port: flags.port, uiPort},
      {note: (m) => this.note(m), runtime, signal: this.signal, timeoutMs: flags.timeout * 1000},
    )
    this.log(
      result.alreadyRunning
        ? `Temporal is already running at ${result.address} (${result.name}, ${result.image}).`
        : `Temporal is running at ${result.address}; web UI ${result.ui} (${result.name} on ${runtime.displayName}, ready in ${result.seconds} s).`,
    )
    return result
  }
}

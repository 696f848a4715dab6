import {api} from '../../host.js'
import {
  DEFAULT_IMAGE,
  DEFAULT_PORT,
  networkFor,
  type StartResult,
  startTemporal,
  type TemporalNetwork,
} from '../../temporal.js'

const {Flags} = api

export default class TemporalStart extends api.StigmerCommand {
  static override description = `Runs \`temporal server start-dev\` in a container named stigmer-temporal on the engine stigmer uses (Docker or Podman, or --runtime), and waits until a server answers at localhost:7233: what \`stigmer server start\` expects by default. The web UI is on localhost:8233. The server keeps its data in memory: \`stigmer temporal stop\` discards it.

Networking: host networking where the engine runs containers on this machine (Linux); where it runs them in a VM (Docker Desktop, Podman machine, Colima) both ports are published on 127.0.0.1 instead (bridge networking), since the VM's localhost is not this machine's. --network overrides.

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
        'host: the host network (Linux; Docker Desktop with host networking turned on). bridge: publish the ports on 127.0.0.1. Default: host where the engine runs containers on this machine, bridge where it runs them in a VM.',
      options: ['host', 'bridge'],
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
    const network = networkFor(
      {displayName: runtime.displayName, inVm: engine.inVm},
      flags.network as TemporalNetwork | undefined,
    )
    const uiPort = flags['ui-port'] ?? flags.port + 1000
    const result = await startTemporal(
      {image: flags.image, network: network.mode, port: flags.port, uiPort},
      {note: (m) => this.note(m), runtime, signal: this.signal, timeoutMs: flags.timeout * 1000},
    )
    this.log(
      result.alreadyRunning
        ? `Temporal is already running at ${result.address} (${result.name}, ${result.image}).`
        : `Temporal is running at ${result.address}; web UI ${result.ui} (${result.name} on ${runtime.displayName}, ${network.reason}; ready in ${result.seconds} s).`,
    )
    return result
  }
}

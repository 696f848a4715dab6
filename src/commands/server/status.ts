import {StigmerCommand} from '../../base-command.js'
import {loadConfig} from '../../lib/config.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {runtimeFlag} from '../../lib/flags.js'
import {formatDuration} from '../../lib/format.js'
import {stigmerPaths} from '../../lib/paths.js'
import {addSecretsFromEnv} from '../../lib/redact.js'
import {maskEnv} from '../../services/container-env.js'
import {resolveImage} from '../../services/image-resolution.js'
import {CONTAINER_NAME, type Registration, serverStatus, type StatusResult} from '../../services/server.js'

/** The exit code scripts read: 0 running and healthy, 4 running but not healthy, 3 not running. */
export function statusExitCode(status: Pick<StatusResult, 'healthy' | 'running'>): number {
  if (!status.running) return ExitCode.NOT_RUNNING
  return status.healthy ? ExitCode.OK : ExitCode.NOT_HEALTHY
}

function registrationLine(r: Registration): string {
  if (r.pollers === undefined) return `registered: unknown (${r.error ?? `Temporal at ${r.address} did not answer`})`
  const where = `${r.taskQueue} (namespace ${r.namespace}) at ${r.address}`
  return r.pollers > 0 ? `registered: ${r.pollers} poller(s) on ${where}` : `not registered: no poller on ${where}`
}

export default class ServerStatus extends StigmerCommand {
  static override description = `Shows the agent-runner container: state (absent, created, running, restarting, exited with its code), health and the last health-check output, image reference and digest and whether it is the image this CLI pins, container id, uptime, engine, network mode and why, workspace path, and the environment it was given (secret values and URL passwords masked; on a terminal, escape sequences in what the container and image report are removed).

Health is the image's health check, run now (not the engine's last periodic verdict, which can be 30 s or more old; Podman without systemd never runs it): healthy while the runner holds a connection to Temporal.

Registered: status asks Temporal (DescribeTaskQueue, a gRPC call) for the pollers on the runner's task queue (TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE in TEMPORAL_NAMESPACE) and shows "registered: N poller(s) on <queue>". It does not change the exit code.

Exit codes (for scripts): 0 running and healthy (or running, for an image without a health check); 3 not running (absent, created, exited); 4 running but not healthy (starting or unhealthy); 10/11/12 engine problems (11, never 3, when DOCKER_HOST, CONTAINER_HOST or the docker context names an engine that does not answer: stigmer does not look at another engine instead).`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> >/dev/null && echo ready',
  ]
  static override flags = {runtime: runtimeFlag}
  static override needsRuntime = true
  static override summary = 'Show the state and health of the agent-runner container.'
  static override useRememberedRuntime = true

  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(ServerStatus)
    const {runtime} = await this.runtime(flags.runtime)
    const config = await loadConfig(stigmerPaths().configFile)
    const pinned = resolveImage({cliVersion: this.config.version, config}).pinned
    const raw = await serverStatus(runtime, pinned, {registration: true})
    // The container's own secret values are masked wherever they appear (a health-check output, a label).
    addSecretsFromEnv(raw.env)
    const status: StatusResult = {...raw, env: maskEnv(raw.env)}
    if (status.state === 'absent') {
      this.logForeign(`Agent-runner: not running (no ${CONTAINER_NAME} container in ${runtime.displayName}).`)
      this.logForeign('Start it: stigmer server start')
    } else {
      const state = status.running
        ? `running, ${status.health === 'none' ? 'no health check' : status.health}`
        : `${status.state}${status.exitCode === undefined ? '' : ` (exit code ${status.exitCode}${status.oomKilled ? ', OOM-killed' : ''})`}`
      this.logForeign(`Agent-runner: ${state}`)
      this.logForeign(
        `  container   ${CONTAINER_NAME} (${status.containerId!.slice(0, 12)})${status.uptimeSeconds === undefined ? '' : `, up ${formatDuration(status.uptimeSeconds)}`}`,
      )
      this.logForeign(`  image       ${status.image}${status.imageDigest ? ` @ ${status.imageDigest}` : ''}`)
      this.logForeign(
        `              ${status.matchesPinned ? 'the image this CLI pins' : `not the pinned image (this CLI pins ${status.pinnedImage})`}${status.imageVersion ? `; image version ${status.imageVersion}` : ''}`,
      )
      this.logForeign(`  engine      ${runtime.displayName} at ${status.endpoint}`)
      this.logForeign(`  network     ${status.network}${status.networkReason ? `: ${status.networkReason}` : ''}`)
      this.logForeign(`  workspace   ${status.workspace ?? '?'} -> /workspace`)
      if (status.lastProbe) this.logForeign(`  last probe  ${status.lastProbe.split('\n')[0]}`)
      if (status.registration) this.logForeign(`  temporal    ${registrationLine(status.registration)}`)
      this.logForeign('  environment')
      for (const [name, value] of Object.entries(status.env).sort(([a], [b]) => a.localeCompare(b))) {
        if (/^(PATH|HOME|HOSTNAME|LANG|GPG_KEY|PYTHON_\w+|container)$/.test(name)) continue
        this.logForeign(`    ${name}=${value}`)
      }
    }

    process.exitCode = statusExitCode(status)
    return status
  }
}

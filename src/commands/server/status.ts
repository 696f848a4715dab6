import type {StatusResult} from '../../server/status.js'

import {StigmerCommand} from '../../base-command.js'
import {runtimeFlag} from '../../lib/flags.js'
import {serverStatusCommand} from '../../server/status.js'

// Scripts and tests import it from here too.
export {statusExitCode} from '../../server/status.js'

export default class ServerStatus extends StigmerCommand {
  static override description = `Shows the agent-runner container: state (absent, created, running, restarting, exited with its code), health and the last health-check output, image reference and digest and whether it is the image this CLI pins, container id, uptime, engine, network mode and why, workspace path, and the environment it was given (secret values and URL passwords masked; on a terminal, escape sequences in what the container and image report are removed).

Health is the image's health check, run now (not the engine's last periodic verdict, which can be 30 s or more old; Podman without systemd never runs it): healthy while the runner holds a connection to Temporal.

Registered: status asks Temporal (DescribeTaskQueue, a gRPC call) for the pollers on the runner's task queue (TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE in TEMPORAL_NAMESPACE) and shows "registered: N poller(s) on <queue>". It does not change the exit code.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> >/dev/null && echo ready',
  ]
  static override flags = {runtime: runtimeFlag}
  static override needsRuntime = true
  static override summary = 'Show the state and health of the agent-runner container.'
  static override useRememberedRuntime = true

  // What it does is in src/server/status.ts, shared with bin/run.js's fast path (src/fast-path.ts),
  // which parses these same flags from oclif's manifest of this class.
  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(ServerStatus)
    return serverStatusCommand({
      cliVersion: this.config.version,
      logForeign: (line) => this.logForeign(line),
      runtime: () => this.runtime(flags.runtime),
    })
  }
}

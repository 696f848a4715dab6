import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {runtimeFlag} from '../../lib/flags.js'
import {stigmerPaths} from '../../lib/paths.js'
import {stopServer, type StopResult} from '../../server/lifecycle.js'
import {CONTAINER_NAME} from '../../server/spec.js'
import {taskUiFor} from '../../ui/tasks.js'

export default class ServerStop extends StigmerCommand {
  static override description = `Stops the agent-runner container (SIGTERM, then SIGKILL after --timeout seconds) and removes it. It touches nothing else: not the workspace folder, not other containers, not the image. When nothing runs it says so and exits 0.

The engine is the one that ran "server start" (remembered in ~/.stigmer/state), unless --runtime says otherwise.`
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --timeout 30']
  static override flags = {
    runtime: runtimeFlag,
    timeout: Flags.integer({
      default: 10,
      description: 'Seconds to wait for a graceful stop before killing it.',
      min: 0,
    }),
  }
  static override needsRuntime = true
  static override summary = 'Stop and remove the agent-runner container (the workspace is kept).'
  static override useRememberedRuntime = true

  async run(): Promise<StopResult> {
    const {flags} = await this.parse(ServerStop)
    const {runtime} = await this.runtime(flags.runtime)
    const ui = taskUiFor({json: this.jsonEnabled()})
    const result = await stopServer(runtime, stigmerPaths(), {
      signal: this.signal,
      timeoutSeconds: flags.timeout,
      ui,
    }).finally(() => ui.stop())
    if (result.status === 'not-running')
      this.log(`The agent-runner is not running (no ${CONTAINER_NAME} container in ${runtime.displayName}).`)
    else
      this.log(
        `Stopped and removed ${CONTAINER_NAME}.${result.workspace ? ` The workspace ${result.workspace} is kept.` : ''}`,
      )
    return result
  }
}

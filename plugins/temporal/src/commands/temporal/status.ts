import {api} from '../../host.js'
import {CONTAINER_NAME, statusExitCode, type StatusResult, temporalStatus} from '../../temporal.js'

export default class TemporalStatus extends api.StigmerCommand {
  static override description = `Shows whether the stigmer-temporal container runs and whether its port answers.

Exit codes (for scripts): 0 running and answering; 3 not running; 4 running but the port does not answer (yet).`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> >/dev/null || <%= config.bin %> temporal start',
  ]
  static override flags = {runtime: api.runtimeFlag}
  static override needsRuntime = true
  static override summary = 'Show the state of the Temporal development server container.'

  async run(): Promise<StatusResult> {
    const {flags} = await this.parse(TemporalStatus)
    const {runtime} = await this.runtime(flags.runtime)
    const status = await temporalStatus(runtime)
    if (status.state === 'absent') {
      this.log(
        `Temporal: not running (no ${CONTAINER_NAME} container in ${runtime.displayName}). Start it: stigmer temporal start`,
      )
    } else {
      this.log(
        `Temporal: ${status.state}${status.running ? (status.answering ? `, answering at ${status.address}` : `, ${status.address} not answering yet`) : ''}`,
      )
      this.log(`  container  ${CONTAINER_NAME} (${status.image ?? '?'}) on ${runtime.displayName}`)
    }

    process.exitCode = statusExitCode(status)
    return status
  }
}

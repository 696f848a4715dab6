import {api} from '../../host.js'
import {CONTAINER_NAME, stopTemporal, type StopResult} from '../../temporal.js'

export default class TemporalStop extends api.StigmerCommand {
  static override description = `Stops and removes the stigmer-temporal container (its in-memory data goes with it). Nothing to do, and exit 0, when it is not there.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --runtime podman --json',
  ]
  static override flags = {runtime: api.runtimeFlag}
  static override needsRuntime = true
  static override summary = 'Stop the Temporal development server container.'

  async run(): Promise<StopResult> {
    const {flags} = await this.parse(TemporalStop)
    const {runtime} = await this.runtime(flags.runtime)
    const result = await stopTemporal(runtime)
    this.log(
      result.stopped
        ? `Stopped and removed ${CONTAINER_NAME}.`
        : `No ${CONTAINER_NAME} container in ${runtime.displayName}: nothing to stop.`,
    )
    return result
  }
}

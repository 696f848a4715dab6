import {StigmerCommand} from '../base-command.js'
import {type DoctorReport, runDoctor} from '../doctor/doctor.js'
import {renderDoctorReport} from '../doctor/render.js'
import {runtimeFlag} from '../lib/flags.js'
import {redact} from '../lib/redact.js'
import {useColor} from '../lib/terminal.js'

export default class Doctor extends StigmerCommand {
  static override description = `Checks everything \`stigmer server start\` depends on and gives a verdict per line (ok, warn, fail):
every container engine candidate probed (where, and why it is or is not usable), the engine that would be chosen and why, its version and whether it is rootless, the permissions of each engine socket, free disk where images live, which network mode server start would use (host on Linux, bridge where the engine runs in a VM) and why, whether the workspace folder is writable, whether Temporal answers at TEMPORAL_SERVICE_ADDRESS (default localhost:7233), the config file, and whether the agent-runner image is present.

Doctor never starts an engine or a service; where stigmer would start \`podman system service\` by itself, it says so. It changes nothing except one temporary file it writes to the workspace folder and removes.

When several checks fail, the code is that of the first in this order: engine, engine version, socket, config file, workspace. The whole report is printed (or returned under --json) in every case.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --runtime podman',
  ]
  static override flags = {
    runtime: runtimeFlag,
  }
  static override summary = 'Check the container engine, networking, workspace and Temporal, and say what to fix.'

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const {leftHanging, report} = await runDoctor({
      cliVersion: this.config.version,
      env: process.env,
      flag: flags.runtime,
      oclifConfig: this.config,
    })
    if (!this.jsonEnabled()) this.log(redact(renderDoctorReport(report, {color: useColor(process.stdout)})))
    process.exitCode = report.exitCode
    // An engine request that timed out would keep the process alive: leave once the output is written.
    if (leftHanging) setTimeout(() => process.exit(), 200).unref()
    return report
  }
}

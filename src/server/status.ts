import type {ResolvedRuntime} from '../engine/choose.js'

import {resolveImage} from '../image/resolution.js'
import {loadConfig} from '../lib/config.js'
import {ExitCode} from '../lib/exit-codes.js'
import {formatDuration} from '../lib/format.js'
import {stigmerPaths} from '../lib/paths.js'
import {addSecretsFromEnv} from '../lib/redact.js'
import {maskEnv} from './env.js'
import {CONTAINER_NAME, type Registration, serverStatus, type StatusResult} from './lifecycle.js'

/**
 * What `stigmer server status` does once its flags are parsed: shared by its oclif command
 * (src/commands/server/status.ts, where its flags and help are defined) and bin/run.js's fast
 * path (src/fast-path.ts), which runs it without loading oclif. Nothing here imports oclif.
 */

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

export interface StatusCommandIo {
  /** The engine (detected once per process: the prerun hook may have asked already). */
  readonly runtime: () => Promise<ResolvedRuntime>
  /** This CLI's version: the image it pins. */
  readonly cliVersion: string
  /** One line of what came from a container, an image or a registry (escapes removed on a terminal; quiet under --json). */
  readonly logForeign: (line: string) => void
}

/** Shows the managed container and sets the exit code; returns the --json result. */
export async function serverStatusCommand(io: StatusCommandIo): Promise<StatusResult> {
  const {runtime} = await io.runtime()
  const config = await loadConfig(stigmerPaths().configFile)
  const pinned = resolveImage({cliVersion: io.cliVersion, config}).pinned
  const raw = await serverStatus(runtime, pinned, {registration: true})
  // The container's own secret values are masked wherever they appear (a health-check output, a label).
  addSecretsFromEnv(raw.env)
  const status: StatusResult = {...raw, env: maskEnv(raw.env)}
  const log = io.logForeign
  if (status.state === 'absent') {
    log(`Agent-runner: not running (no ${CONTAINER_NAME} container in ${runtime.displayName}).`)
    log('Start it: stigmer server start')
  } else {
    const state = status.running
      ? `running, ${status.health === 'none' ? 'no health check' : status.health}`
      : `${status.state}${status.exitCode === undefined ? '' : ` (exit code ${status.exitCode}${status.oomKilled ? ', OOM-killed' : ''})`}`
    log(`Agent-runner: ${state}`)
    log(
      `  container   ${CONTAINER_NAME} (${status.containerId!.slice(0, 12)})${status.uptimeSeconds === undefined ? '' : `, up ${formatDuration(status.uptimeSeconds)}`}`,
    )
    log(`  image       ${status.image}${status.imageDigest ? ` @ ${status.imageDigest}` : ''}`)
    log(
      `              ${status.matchesPinned ? 'the image this CLI pins' : `not the pinned image (this CLI pins ${status.pinnedImage})`}${status.imageVersion ? `; image version ${status.imageVersion}` : ''}`,
    )
    log(`  engine      ${runtime.displayName} at ${status.endpoint}`)
    log(`  network     ${status.network}${status.networkReason ? `: ${status.networkReason}` : ''}`)
    log(`  workspace   ${status.workspace ?? '?'} -> /workspace`)
    if (status.lastProbe) log(`  last probe  ${status.lastProbe.split('\n')[0]}`)
    if (status.registration) log(`  temporal    ${registrationLine(status.registration)}`)
    log('  environment')
    for (const [name, value] of Object.entries(status.env).sort(([a], [b]) => a.localeCompare(b))) {
      if (/^(PATH|HOME|HOSTNAME|LANG|GPG_KEY|PYTHON_\w+|container)$/.test(name)) continue
      log(`    ${name}=${value}`)
    }
  }

  process.exitCode = statusExitCode(status)
  return status
}

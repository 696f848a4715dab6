import type {ResolvedRuntime} from '../engine/choose.js'
import type {ContainerInfo, ContainerRuntime, HealthcheckRunResult, ImageInfo} from '../engine/types.js'

import {resolveImage} from '../image/resolution.js'
import {loadConfig} from '../lib/config.js'
import {ExitCode} from '../lib/exit-codes.js'
import {formatDuration} from '../lib/format.js'
import {stigmerPaths} from '../lib/paths.js'
import {addSecretsFromEnv} from '../lib/redact.js'
import {envDefault, maskEnv, taskQueueOf} from './env.js'
import {judgeHealth} from './readiness.js'
import {
  CONTAINER_NAME,
  findManaged,
  LABEL_CLI_VERSION,
  LABEL_IMAGE_REF,
  LABEL_NETWORK,
  LABEL_NETWORK_REASON,
  LABEL_TEMPORAL,
  LABEL_WORKSPACE,
  repoDigest,
} from './spec.js'
import {taskQueuePollers} from './temporal.js'

/**
 * `stigmer server status`: what the managed container is (serverStatus), and what the command
 * does once its flags are parsed (serverStatusCommand), shared by its oclif command
 * (src/commands/server/status.ts, where its flags and help are defined) and bin/run.js's fast
 * path (src/fast-path.ts), which runs it without loading oclif. Nothing here imports oclif.
 */

export interface StatusResult {
  readonly state: 'absent' | ContainerInfo['status']
  readonly running: boolean
  readonly healthy: boolean
  readonly health: string
  readonly lastProbe: string | undefined
  readonly exitCode: number | undefined
  readonly oomKilled: boolean
  readonly containerId: string | undefined
  readonly image: string | undefined
  readonly imageId: string | undefined
  readonly imageDigest: string | undefined
  readonly imageVersion: string | undefined
  readonly pinnedImage: string
  readonly matchesPinned: boolean | undefined
  readonly startedAt: string | undefined
  readonly uptimeSeconds: number | undefined
  readonly runtime: string
  readonly endpoint: string
  readonly network: string | undefined
  readonly networkReason: string | undefined
  readonly workspace: string | undefined
  readonly env: Record<string, string>
  readonly cliVersion: string | undefined
  /** Whether Temporal lists pollers on the runner's task queue (server status asks; undefined when not asked or not running). */
  readonly registration?: Registration | undefined
}

export interface Registration {
  readonly address: string
  readonly namespace: string
  readonly taskQueue: string
  /** Distinct pollers; undefined when Temporal did not answer. */
  readonly pollers: number | undefined
  readonly error?: string
}

/** Where to ask about a running container's registration: the host's view of its Temporal, its namespace and queue. */
function registrationTarget(info: ContainerInfo): {address: string; namespace: string; taskQueue: string} {
  return {
    address: info.labels[LABEL_TEMPORAL] ?? info.env.TEMPORAL_SERVICE_ADDRESS ?? envDefault('TEMPORAL_SERVICE_ADDRESS'),
    ...taskQueueOf(info.env),
  }
}

async function describeRegistration(target: {
  address: string
  namespace: string
  taskQueue: string
}): Promise<Registration> {
  try {
    const report = await taskQueuePollers(target.address, target.namespace, target.taskQueue)
    return {...target, pollers: report.pollers.length}
  } catch (error) {
    return {...target, error: (error as Error).message, pollers: undefined}
  }
}

type StatusBase = Pick<StatusResult, 'endpoint' | 'pinnedImage' | 'runtime'>

/** No managed container. */
function absentStatus(base: StatusBase): StatusResult {
  return {
    ...base,
    cliVersion: undefined,
    containerId: undefined,
    env: {},
    exitCode: undefined,
    health: 'none',
    healthy: false,
    image: undefined,
    imageDigest: undefined,
    imageId: undefined,
    imageVersion: undefined,
    lastProbe: undefined,
    matchesPinned: undefined,
    network: undefined,
    networkReason: undefined,
    oomKilled: false,
    running: false,
    startedAt: undefined,
    state: 'absent',
    uptimeSeconds: undefined,
    workspace: undefined,
  }
}

/**
 * What is asked beside each other about a container found: its check, run now (never the
 * engine's last verdict: the engine checks every 30 s and calls a container unhealthy only
 * after 3 failures, and Podman without systemd never checks, so a runner that lost Temporal
 * a second ago would still read "healthy"), its registration with Temporal when asked, and
 * its image.
 */
async function askAbout(
  runtime: ContainerRuntime,
  info: ContainerInfo,
  registration: boolean,
): Promise<{
  image?: ImageInfo | undefined
  probe?: HealthcheckRunResult | undefined
  registered?: Registration | undefined
}> {
  const [probe, registered, image] = await Promise.all([
    info.running && info.healthcheck ? runtime.runHealthcheck(info.id).catch(() => undefined) : undefined,
    info.running && registration ? describeRegistration(registrationTarget(info)) : undefined,
    runtime.inspectImage(info.imageId).catch(() => undefined),
  ])
  return {image, probe, registered}
}

function uptimeSecondsOf(info: ContainerInfo): number | undefined {
  const started = info.startedAt ? Date.parse(info.startedAt) : Number.NaN
  if (!info.running || !Number.isFinite(started)) return undefined
  return Math.max(0, Math.round((Date.now() - started) / 1000))
}

/** Everything about the managed container, secrets masked by the caller. */
export async function serverStatus(
  runtime: ContainerRuntime,
  pinned: string,
  options: {registration?: boolean} = {},
): Promise<StatusResult> {
  const info = await findManaged(runtime)
  const base = {endpoint: runtime.endpoint.url, pinnedImage: pinned, runtime: runtime.name}
  if (!info) return absentStatus(base)

  const {image, probe, registered} = await askAbout(runtime, info, options.registration ?? false)
  const {health, healthy} = judgeHealth({
    engineHealth: info.health,
    hasHealthcheck: Boolean(info.healthcheck),
    probe,
    running: info.running,
  })
  const ref = info.labels[LABEL_IMAGE_REF] ?? info.image
  return {
    ...base,
    cliVersion: info.labels[LABEL_CLI_VERSION],
    containerId: info.id,
    env: info.env,
    exitCode: info.running ? undefined : info.exitCode,
    health,
    healthy,
    image: ref,
    imageDigest: image ? repoDigest(image.digests, ref) : undefined,
    imageId: info.imageId,
    imageVersion: image?.labels['org.opencontainers.image.version'],
    lastProbe: probe?.output.trim() || info.healthLog.at(-1)?.output.trim(),
    matchesPinned: ref === pinned,
    network: info.labels[LABEL_NETWORK] ?? info.network,
    networkReason: info.labels[LABEL_NETWORK_REASON],
    oomKilled: info.oomKilled,
    registration: registered,
    running: info.running,
    startedAt: info.startedAt,
    state: info.status,
    uptimeSeconds: uptimeSecondsOf(info),
    workspace: info.labels[LABEL_WORKSPACE] ?? info.binds.find((b) => b.containerPath === '/workspace')?.hostPath,
  }
}

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

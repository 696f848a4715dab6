import {createHash} from 'node:crypto'
import {
  accessSync,
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
} from 'node:fs'
import {dirname, resolve} from 'node:path'

import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  EngineCapabilities,
  EngineInfo,
  ImageInfo,
  NetworkMode,
} from '../engine/types.js'
import type {ResolvedImage} from '../image/resolution.js'
import type {StigmerPaths} from '../lib/paths.js'
import type {TaskUi} from '../ui/tasks.js'

import {capabilitiesOf} from '../adapters/capabilities.js'
import {ifEngineStopped} from '../engine/engine-gone.js'
import {RuntimeError} from '../engine/errors.js'
import {firstRunPull, needsFirstRunPull} from '../image/first-run.js'
import {pullImage} from '../image/pull.js'
import {InterruptedError, StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {parseImageRef, registryOf} from '../lib/image-ref.js'
import {taskReporter} from '../ui/pull-reporter.js'
import {buildContainerEnv, type ContainerEnvironment, envDefault} from './env.js'
import {logLifecycle} from './lifecycle-log.js'
import {acquireLock} from './lock.js'
import {chooseNetworkMode, extraHostsFor, type NetworkModeChoice} from './network.js'
import {clearServerState, readServerState, writeServerState} from './state.js'
import {taskQueuePollers, temporalAnswers, type PollerReport} from './temporal.js'

export const CONTAINER_NAME = 'stigmer-agent-runner'
export const LABEL_MANAGED = 'io.stigmer.managed'
export const LABEL_CLI_VERSION = 'io.stigmer.cli-version'
export const LABEL_SPEC_HASH = 'io.stigmer.spec-hash'
export const LABEL_WORKSPACE = 'io.stigmer.workspace'
export const LABEL_NETWORK = 'io.stigmer.network'
export const LABEL_NETWORK_REASON = 'io.stigmer.network-reason'
export const LABEL_IMAGE_REF = 'io.stigmer.image'
/** How long the engine waits after SIGTERM before it kills the container. */
export const STOP_TIMEOUT_SECONDS = 10
/** TEMPORAL_SERVICE_ADDRESS as the host reaches it (the container's copy may be rewritten to a host alias). */
export const LABEL_TEMPORAL = 'io.stigmer.temporal-address'

export type PullPolicy = 'always' | 'missing' | 'never'

export interface StartRequest {
  readonly runtime: ContainerRuntime
  readonly image: ResolvedImage
  readonly pull: PullPolicy
  readonly pullTimeoutMs: number
  readonly network?: {mode: NetworkMode; source: string} | undefined
  readonly workspace: string
  readonly envFlags: Readonly<Record<string, string | undefined>>
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly configEnv: Readonly<Record<string, string>>
  readonly extraEnv: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly requireTemporal: boolean
  /** What "ready" means: the image's check passes (connected to Temporal), or also a poller on the task queue. */
  readonly waitFor?: WaitFor
  readonly cliVersion: string
  readonly paths: StigmerPaths
  readonly signal: AbortSignal
  readonly ui: TaskUi
  readonly json: boolean
  readonly platform?: NodeJS.Platform
  readonly uid?: number | undefined
  readonly gid?: number | undefined
}

export type WaitFor = 'connected' | 'registered'

export interface StartResult {
  readonly status: 'already-running' | 'replaced' | 'started'
  readonly containerId: string
  readonly containerName: string
  readonly image: string
  readonly imageId: string
  readonly imageDigest: string | undefined
  readonly runtime: string
  readonly endpoint: string
  readonly network: NetworkMode
  readonly networkReason: string
  readonly workspace: string
  readonly readyAfterMs: number
  readonly health: string
  readonly pulled: boolean
  readonly warnings: string[]
  readonly logsCommand: string
  /** With --wait-for registered: the pollers Temporal reported on the task queue. */
  readonly registered?: PollerReport | undefined
}

/** The user the container runs as, so files in /workspace belong to the host user. */
// eslint-disable-next-line max-params -- the four facts the answer depends on
export function containerUser(
  platform: NodeJS.Platform,
  engine: Pick<EngineInfo, 'inVm' | 'rootless'>,
  capabilities: Pick<EngineCapabilities, 'keepIdWhenRootless'>,
  uid: number | undefined,
  gid: number | undefined,
): {keepUserNamespace?: boolean; user?: string} {
  // Docker Desktop / Podman machine share files through the VM with the user's ownership.
  if (platform !== 'linux' || engine.inVm || uid === undefined || gid === undefined) return {}
  // Rootless Podman: keep-id maps the user to the same uid inside.
  if (capabilities.keepIdWhenRootless && engine.rootless) return {keepUserNamespace: true, user: `${uid}:${gid}`}
  // The image's user is 1000; root keeps it (never run the agent-runner as root).
  if (uid === 1000 || uid === 0) return {}
  return {user: `${uid}:${gid}`}
}

/**
 * The registry digest of `ref` among an image's repo digests. Podman lists one
 * per name the image has (a local build's name too), in no useful order: take
 * the one of the repository being run, else the first.
 */
export function repoDigest(digests: readonly string[], ref: string): string | undefined {
  const canonical = (name: string) => {
    try {
      const parsed = parseImageRef(name)
      return `${registryOf(parsed)}/${parsed.repository.replace(/^library\//, '')}`
    } catch {
      return name
    }
  }

  const wanted = canonical(ref.split('@')[0]!)
  const match = digests.find((d) => canonical(d.split('@')[0]!) === wanted) ?? digests[0]
  return match?.split('@')[1]
}

/** A stable hash of everything that makes a container "the same" one. */
export function specHash(spec: ContainerSpec, imageId: string): string {
  const canonical = JSON.stringify({
    binds: spec.binds,
    env: Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b)),
    extraHosts: Object.entries(spec.extraHosts ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    imageId,
    keep: spec.keepUserNamespace ?? false,
    network: spec.network,
    restart: spec.restartPolicy,
    user: spec.user ?? '',
  })
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16)
}

/** What `server start` builds its container from: the request, plus what the engine and the image say. */
export interface ServerSpecInput {
  readonly runtime: Pick<ContainerRuntime, 'capabilities' | 'hostGatewayName' | 'name'>
  readonly engine: Pick<EngineInfo, 'inVm' | 'name' | 'rootless'>
  readonly image: Pick<ResolvedImage, 'ref'>
  /** The image's configured USER (ImageInfo.user). */
  readonly imageUser: string
  readonly network?: StartRequest['network']
  readonly workspace: string
  readonly envFlags: StartRequest['envFlags']
  readonly hostEnv: StartRequest['hostEnv']
  readonly configEnv: StartRequest['configEnv']
  readonly extraEnv: StartRequest['extraEnv']
  readonly platform: NodeJS.Platform
  readonly uid: number | undefined
  readonly gid: number | undefined
}

export interface ServerSpec {
  /** The container `server start` creates (before its labels). */
  readonly spec: ContainerSpec
  readonly network: NetworkModeChoice
  readonly environment: ContainerEnvironment
  /** Root on a native engine: the workspace folder goes to the image's (non-root) user. */
  readonly handTo: {gid: number; uid: number} | undefined
}

/**
 * The container spec of `server start`: network mode, environment, user and
 * workspace mount. Pure (no engine call, no file touched): `server start`
 * creates exactly this, and `server export` translates it.
 */
export function buildServerSpec(input: ServerSpecInput): ServerSpec {
  const {engine, platform, runtime} = input
  const capabilities = capabilitiesOf(runtime)
  const network = chooseNetworkMode({
    engineInfo: {capabilities, inVm: engine.inVm, name: engine.name, rootless: engine.rootless},
    platform,
    requested: input.network?.mode,
    ...(input.network ? {requestedSource: input.network.source} : {}),
  })
  const gatewayName = network.mode === 'bridge' ? runtime.hostGatewayName : undefined
  const environment: ContainerEnvironment = buildContainerEnv({
    configEnv: input.configEnv,
    extra: input.extraEnv,
    flags: input.envFlags,
    gatewayName,
    hostEnv: input.hostEnv,
  })
  const user = containerUser(platform, engine, capabilities, input.uid, input.gid)
  // Root on a native engine: the container keeps the image's numeric user (never root).
  const imageUser = /^(\d+)(?::(\d+))?$/.exec(input.imageUser)
  const handTo =
    platform === 'linux' &&
    !engine.inVm &&
    input.uid === 0 &&
    user.user === undefined &&
    imageUser &&
    imageUser[1] !== '0'
      ? {gid: Number(imageUser[2] ?? imageUser[1]), uid: Number(imageUser[1])}
      : undefined
  const spec: ContainerSpec = {
    binds: [{containerPath: '/workspace', hostPath: input.workspace, selinuxRelabel: 'private'}],
    env: environment.env,
    extraHosts: extraHostsFor(network.mode, capabilities),
    image: input.image.ref,
    labels: {},
    name: CONTAINER_NAME,
    network: network.mode,
    restartPolicy: 'unless-stopped',
    stopTimeoutSeconds: STOP_TIMEOUT_SECONDS,
    ...user,
  }
  return {environment, handTo, network, spec}
}

/** Refuses a workspace stigmer would re-own when a link or another user's folder could redirect it. */
function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    if ((error as {code?: string}).code === 'ENOENT') return undefined
    throw error
  }
}

function unsafeWorkspace(path: string, problem: string): StigmerError {
  return new StigmerError(`The workspace folder ${path} is not safe to use: ${problem}.`, {
    code: 'WORKSPACE',
    exit: ExitCode.WORKSPACE,
    suggestions: [
      `Look at it: ls -ld ${path}; if you did not make it, remove it and run the command again.`,
      'Or choose another folder with --workspace DIR (or workspace: in ~/.stigmer/config.yaml).',
    ],
  })
}

/** `path` and every folder above it, root first. */
function ancestry(path: string): string[] {
  const chain = [path]
  for (let current = path; dirname(current) !== current; current = dirname(current)) chain.unshift(dirname(current))
  return chain
}

/**
 * Every folder above `path`, root first, as written and after resolving links,
 * must belong to root or to `uid`: otherwise another user could swap the next
 * one for a link and redirect the ownership change to a folder of their
 * choosing. (A link owned by root in root's folders, such as a symlinked /home,
 * is fine. The workspace itself may already belong to the image's user from an
 * earlier start; it is opened with O_NOFOLLOW.)
 */
function checkComponents(path: string, uid: number): void {
  const parent = dirname(resolve(path))
  const chains = [...ancestry(parent), ...ancestry(realpathSync(parent))]
  for (const component of new Set(chains)) {
    const stat = lstatSync(component)
    if (stat.uid !== 0 && stat.uid !== uid)
      throw unsafeWorkspace(path, `${component} belongs to another user (uid ${stat.uid})`)
  }
}

/**
 * Creates the workspace as the invoking user. `handTo`: when root starts the
 * container, it keeps the image's own (non-root) user, which could not write a
 * root-owned 0755 folder: a folder created now, or stigmer's default workspace,
 * is given to that user.
 *
 * stigmer's default workspace is never a link, and nothing is re-owned through
 * one: the folder and every folder above it must be real folders of root or of
 * the invoking user, and the change of owner goes through a descriptor opened
 * with O_NOFOLLOW (so a link planted in between is refused, not followed).
 * Exported for tests.
 */
export function ensureWorkspace(
  path: string,
  handTo?: {gid: number; uid: number},
  managed = false,
  uid: number = process.getuid?.() ?? 0,
): void {
  try {
    const existing = lstatOrUndefined(path)
    if (managed && existing?.isSymbolicLink())
      throw unsafeWorkspace(path, 'it is a symbolic link, which stigmer never follows for its own workspace')
    const created = existing === undefined
    mkdirSync(path, {mode: 0o755, recursive: true})
    // A folder this start created, or stigmer's own default one, goes to the image's user;
    // a folder the user named is never re-owned (the runner reports if it cannot write it).
    if (handTo && (created || managed)) {
      checkComponents(path, uid)
      // eslint-disable-next-line no-bitwise -- open(2) flags are a bit set
      const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
      try {
        if (fstatSync(fd).uid !== handTo.uid) fchownSync(fd, handTo.uid, handTo.gid)
      } finally {
        closeSync(fd)
      }
    }

    accessSync(path, constants.W_OK)
  } catch (error) {
    if (error instanceof StigmerError) throw error
    throw new StigmerError(`The workspace folder ${path} cannot be created or written: ${(error as Error).message}`, {
      code: 'WORKSPACE',
      exit: ExitCode.WORKSPACE,
      suggestions: [
        'Choose another folder with --workspace DIR (or workspace: in ~/.stigmer/config.yaml).',
        `Or fix its permissions: ls -ld ${path}`,
      ],
    })
  }
}

/** The last lines of a container's logs, for failure messages. */
export async function logTail(runtime: ContainerRuntime, id: string, lines = 50): Promise<string> {
  const out: string[] = []
  try {
    for await (const line of runtime.logs(id, {tail: lines}))
      out.push(`${line.stream === 'stderr' ? '[stderr] ' : ''}${line.text}`)
  } catch {
    return '(logs unavailable)'
  }

  return out.join('\n')
}

function describeProbe(info: ContainerInfo | undefined, lastProbe: string | undefined): string {
  const fromEngine = info?.healthLog.at(-1)?.output.trim()
  return (lastProbe ?? fromEngine ?? '').trim() || '(no health-check output)'
}

/**
 * Whether an "unhealthy" from the engine can be believed yet. Podman records
 * the probes stigmer runs while it waits (every 50 ms or more), so an image without a
 * start period would be marked unhealthy after `retries` probes in half a
 * second, long before the engine's own schedule could say so. Before the
 * start period plus `retries` intervals have passed since the container
 * started, it is not a verdict: the own probes go on, and --timeout bounds them.
 */
function unhealthyIsCredible(info: ContainerInfo, waitStarted: number): boolean {
  const hc = info.healthcheck
  // 0 means the engine default (retries 3, interval 30 s), as in the image config.
  const earliest = (hc?.startPeriodMs ?? 0) + (hc?.retries || 3) * (hc?.intervalMs || 30_000)
  const since = info.startedAt ? Date.parse(info.startedAt) : Number.NaN
  const running = Date.now() - (Number.isFinite(since) ? Math.min(since, waitStarted) : waitStarted)
  return running >= earliest
}

/**
 * Waits until the container is ready. Does not wait for the engine's
 * health-check interval: it runs the image's check itself at a short interval
 * and returns as soon as one passes. Fails at once when the container exits,
 * is OOM-killed or the engine reports it unhealthy.
 */
export async function waitUntilReady(
  runtime: ContainerRuntime,
  id: string,
  options: {
    hasHealthcheck: boolean
    onProbe?: (text: string) => void
    signal: AbortSignal
    /** Where the runner's Temporal is, from the host: asked again on timeout, to name it as the reason. */
    temporal?: string
    timeoutMs: number
  },
): Promise<{health: string; readyAfterMs: number}> {
  const started = Date.now()
  let lastProbe: string | undefined
  let restartsBefore: number | undefined
  let inspected = await runtime.inspectContainer(id)
  for (;;) {
    if (options.signal.aborted)
      throw new InterruptedError('Interrupted while waiting for the agent-runner to become ready')
    const probeStarted = Date.now()
    const info = inspected
    if (!info)
      throw new StigmerError('The agent-runner container disappeared while starting (someone removed it).', {
        code: 'CONTAINER_EXITED',
        exit: ExitCode.CONTAINER_EXITED,
      })
    restartsBefore ??= info.restartCount
    // The restart policy (unless-stopped) brings a crashed container back at once: the engine
    // then shows it "restarting" or running again with a higher restart count (and Docker marks
    // it unhealthy). That is a crash too, not a container that is still starting.
    const restarted = info.status === 'restarting' || info.restartCount > restartsBefore
    if (restarted || (!info.running && info.status !== 'created')) {
      const why = info.oomKilled
        ? 'was killed for running out of memory (OOM)'
        : info.running
          ? 'exited and was restarted by the engine'
          : `exited with code ${info.exitCode}`
      throw new StigmerError(`The agent-runner container ${why} while starting.`, {
        code: 'CONTAINER_EXITED',
        data: {exitCode: info.exitCode, oomKilled: info.oomKilled},
        details: `Last health-check output: ${describeProbe(info, lastProbe)}\n\nLast 50 log lines:\n${await logTail(runtime, id)}`,
        exit: ExitCode.CONTAINER_EXITED,
        kind: 'external',
        suggestions: [
          'Read the full logs: stigmer server logs',
          info.oomKilled
            ? 'Give the engine more memory (Docker Desktop / Podman machine settings).'
            : 'Check the environment it received: stigmer server status',
        ],
      })
    }

    if (info.health === 'unhealthy' && unhealthyIsCredible(info, started)) {
      throw new StigmerError('The agent-runner container reports unhealthy.', {
        code: 'CONTAINER_UNHEALTHY',
        details: `Last health-check output: ${describeProbe(info, lastProbe)}\n\nLast 50 log lines:\n${await logTail(runtime, id)}`,
        exit: ExitCode.CONTAINER_UNHEALTHY,
        kind: 'external',
        suggestions: [
          'Is Temporal running at TEMPORAL_SERVICE_ADDRESS? (stigmer doctor checks it)',
          'Read the logs: stigmer server logs',
        ],
      })
    }

    if (info.running) {
      if (!options.hasHealthcheck) return {health: 'none', readyAfterMs: Date.now() - started}
      if (info.health === 'healthy') return {health: 'healthy', readyAfterMs: Date.now() - started}
    }

    // The check runs beside the next inspect (which the next round judges): one round trip of
    // the two, not one after the other, and the adapter is handed this inspect instead of asking again.
    const [probe, next] = await Promise.all([
      info.running
        ? runtime.runHealthcheck(id, info).catch((error: unknown) => {
            if (error instanceof RuntimeError && error.reason === 'aborted') throw new InterruptedError()
            // The container may be exiting: the next inspect says so.
            return undefined
          })
        : undefined,
      runtime.inspectContainer(id),
    ])
    inspected = next
    if (probe) {
      lastProbe = probe.output
      if (probe.status === 'healthy' || probe.exitCode === 0)
        return {health: 'healthy', readyAfterMs: Date.now() - started}
      if (probe.status === 'unhealthy' && probe.exitCode !== 0 && probe.output)
        options.onProbe?.(`not ready yet: ${probe.output.split('\n')[0]}`)
    }

    if (Date.now() - started > options.timeoutMs) {
      const temporal = options.temporal ? await temporalAnswers(options.temporal, 2000) : undefined
      const because =
        temporal && !temporal.ok
          ? `: Temporal does not answer at ${options.temporal} (${temporal.detail}), and the agent-runner is ready only once it is connected to Temporal`
          : ''
      throw new StigmerError(
        `The agent-runner did not become ready within ${Math.round(options.timeoutMs / 1000)} s${because}.`,
        {
          code: 'START_TIMEOUT',
          data: {temporalAnswers: temporal?.ok ?? null},
          details: `Last health-check output: ${describeProbe(info, lastProbe)}\n\nLast 50 log lines:\n${await logTail(runtime, id)}`,
          exit: ExitCode.START_TIMEOUT,
          kind: 'external',
          suggestions:
            temporal && !temporal.ok
              ? [
                  'Start Temporal: temporal server start-dev (or: stigmer temporal start, with the temporal plugin)',
                  'Or point to yours: --temporal-address host:port',
                ]
              : [
                  'Wait longer: stigmer server start --timeout 300',
                  'Is Temporal running? stigmer doctor',
                  'Read the logs: stigmer server logs',
                ],
        },
      )
    }

    await new Promise((r) => setTimeout(r, nextProbeInMs(Date.now() - probeStarted, Date.now() - started)))
  }
}

/** A probe (the check and an inspect) that takes longer than this is the check's own work, not the engine's. */
export const HEAVY_PROBE_MS = 300

/**
 * How long to wait before the next probe. For the first 10 s, the way a hand-written loop
 * does it: a probe every 50 ms, or back to back when one takes longer (on Podman 4 the
 * engine's part of a probe alone is 70–130 ms). A heavy check (longer than HEAVY_PROBE_MS,
 * such as a Python script) is given as long again as it took, so probing takes at most half
 * the time. After 10 s, once a second.
 */
export function nextProbeInMs(probeMs: number, waitedMs: number): number {
  if (waitedMs > 10_000) return 1000
  return probeMs > HEAVY_PROBE_MS ? probeMs : Math.max(0, 50 - probeMs)
}

async function findManaged(runtime: ContainerRuntime): Promise<ContainerInfo | undefined> {
  return runtime.inspectContainer(CONTAINER_NAME)
}

/**
 * Makes sure the image is there, honouring --pull; returns it inspected. The
 * one pull path of `server start` and `server export`: a missing image is the
 * first-run pull (the one-time-setup message with the download size, then
 * progress in this step), under the command's Ctrl-C signal and
 * `--pull-timeout` as the command parsed them.
 */
export async function ensureImage(
  req: Pick<StartRequest, 'image' | 'json' | 'paths' | 'pull' | 'pullTimeoutMs' | 'runtime' | 'signal' | 'ui'>,
  /** The image's inspect when the caller already asked for it (beside other requests). */
  inspected?: Promise<ImageInfo | undefined>,
): Promise<{image: ImageInfo; pulled: boolean}> {
  const {runtime, ui} = req
  const ref = req.image.ref
  ui.start(`Image ${ref}`)
  let local = await (inspected ?? runtime.inspectImage(ref))
  if (req.image.source === '--use-local-image' && !local) {
    ui.fail('not built')
    throw new StigmerError(`The local development image ${ref} does not exist in ${runtime.displayName}.`, {
      code: 'IMAGE_NOT_FOUND',
      exit: ExitCode.IMAGE_NOT_FOUND,
      suggestions: [
        'Build it first: stigmer image build --source <path to agent-runner>',
        'Or start the released image: stigmer server start (without --use-local-image)',
      ],
    })
  }

  const mustPull = req.pull === 'always' || (!local && req.pull === 'missing')
  if (!local && req.pull === 'never') {
    ui.fail('not present')
    throw new StigmerError(
      `The image ${ref} is not present in ${runtime.displayName} and --pull never forbids pulling it.`,
      {
        code: 'IMAGE_NOT_FOUND',
        exit: ExitCode.IMAGE_NOT_FOUND,
        suggestions: [`Pull it: stigmer image pull --image ${ref}`, 'Or allow it: stigmer server start --pull missing'],
      },
    )
  }

  let pulled = false
  if (mustPull && req.image.source !== '--use-local-image') {
    ui.output(`pulling ${ref}`)
    const reporter = taskReporter(ui)
    const pull = {reporter, signal: req.signal, timeoutMs: req.pullTimeoutMs}
    const firstRun = needsFirstRunPull({
      imagePresent: Boolean(local),
      pullPolicy: req.pull,
      useLocalImage: false,
    })
    // Missing: the one-time setup (message with the download size); present (--pull always): just pull.
    await (firstRun
      ? firstRunPull(runtime, ref, {...pull, markersDir: req.paths.markersDir, say: (line) => ui.info(line)})
      : pullImage(runtime, ref, pull))
    local = await runtime.inspectImage(ref)
    pulled = true
  }

  if (!local)
    throw new StigmerError(`The image ${ref} is still missing after the pull.`, {
      code: 'IMAGE_NOT_FOUND',
      exit: ExitCode.IMAGE_NOT_FOUND,
    })
  ui.succeed(pulled ? 'pulled' : 'present')
  return {image: local, pulled}
}

/** TEMPORAL_SERVICE_ADDRESS as the host reaches it: the one precedence rule, before any host-alias rewrite. */
function hostTemporalAddress(req: Pick<StartRequest, 'configEnv' | 'envFlags' | 'extraEnv' | 'hostEnv'>): string {
  return (
    buildContainerEnv({configEnv: req.configEnv, extra: req.extraEnv, flags: req.envFlags, hostEnv: req.hostEnv}).env
      .TEMPORAL_SERVICE_ADDRESS ?? envDefault('TEMPORAL_SERVICE_ADDRESS')
  )
}

/** Namespace and task queue the runner polls, as the container gets them. */
function taskQueueOf(env: Readonly<Record<string, string | undefined>>): {namespace: string; taskQueue: string} {
  return {
    namespace: env.TEMPORAL_NAMESPACE || envDefault('TEMPORAL_NAMESPACE'),
    taskQueue:
      env.TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE || envDefault('TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE'),
  }
}

/**
 * --wait-for registered: after the container is ready (connected), waits
 * until Temporal lists a poller on the runner's task queue
 * (DescribeTaskQueue), within what is left of --timeout.
 */
async function registration(
  req: StartRequest,
  target: {address: string; env: Readonly<Record<string, string | undefined>>; spentMs: number},
): Promise<PollerReport | undefined> {
  if (req.waitFor !== 'registered') return undefined
  const {address: temporal, spentMs} = target
  const {namespace, taskQueue} = taskQueueOf(target.env)
  req.ui.start(`Wait until registered with Temporal (task queue ${taskQueue})`)
  const deadline = Date.now() + Math.max(req.timeoutMs - spentMs, 1000)
  let last = ''
  for (;;) {
    if (req.signal.aborted) throw new InterruptedError('Interrupted while waiting for the worker to register')
    try {
      const report = await taskQueuePollers(temporal, namespace, taskQueue)
      if (report.pollers.length > 0) {
        req.ui.succeed(`${report.pollers.length} poller(s) on ${taskQueue}`)
        return report
      }

      last = `Temporal at ${temporal} lists no poller on ${taskQueue} in namespace ${namespace}`
    } catch (error) {
      last = (error as Error).message
    }

    if (Date.now() > deadline) {
      throw new StigmerError(
        `The agent-runner did not register with Temporal within ${Math.round(req.timeoutMs / 1000)} s.`,
        {
          code: 'START_TIMEOUT',
          details: last,
          exit: ExitCode.START_TIMEOUT,
          kind: 'external',
          suggestions: [
            'It is connected but not polling: read its logs (stigmer server logs)',
            'Check TEMPORAL_NAMESPACE and TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE: stigmer server status',
          ],
        },
      )
    }

    await new Promise((r) => setTimeout(r, 500))
  }
}

/**
 * `stigmer server start`: converge on one healthy, managed agent-runner
 * container. Idempotent; serialised by a lock; Ctrl-C removes what this run
 * created and releases the lock.
 */
export async function startServer(req: StartRequest): Promise<StartResult> {
  const {runtime, ui, paths} = req
  const warnings: string[] = []
  const warn = (text: string) => {
    warnings.push(text)
    ui.warn(text)
  }

  const platform = req.platform ?? process.platform
  const uid = req.uid ?? (typeof process.getuid === 'function' ? process.getuid() : undefined)
  const gid = req.gid ?? (typeof process.getgid === 'function' ? process.getgid() : undefined)

  ui.start(`Engine: ${runtime.displayName}`)
  // The image is inspected beside the engine's info (a cached answer on a warm start): both are needed.
  const inspected = runtime.inspectImage(req.image.ref)
  inspected.catch(() => {})
  const engine = await runtime.info()
  ui.succeed(`${engine.name} ${engine.version}`)

  const lock = await acquireLock(paths.serverLock, {
    onWait: () => ui.info('Another stigmer command is changing the agent-runner; waiting for it...'),
    signal: req.signal,
  })
  let createdId: string | undefined
  let finished = false
  try {
    // Preflight: Temporal, asked from the host (a real gRPC call, before any host-alias rewrite),
    // while the image is checked.
    const temporal = hostTemporalAddress(req)
    const answering = temporalAnswers(temporal, 2000)
    // The existing container is looked up beside the image check (its answer is awaited below).
    const existingLookup = findManaged(runtime)
    existingLookup.catch(() => {})
    const {image, pulled} = await ensureImage(req, inspected)
    if (!image.healthcheck) warn(`The image ${req.image.ref} has no health check: it counts as ready once it runs.`)
    if (!req.image.isPinned && req.image.source !== '--use-local-image') {
      // Not an error: say what runs instead of the pinned version.
      ui.info(`Using ${req.image.ref} (from ${req.image.source}); this CLI pins ${req.image.pinned}.`)
    }

    const built = buildServerSpec({...req, engine, imageUser: image.user, platform, runtime, uid, gid})
    const {network} = built
    if (network.caveat) warn(network.caveat)

    const answer = await answering
    if (!answer.ok) {
      const text = `Temporal does not answer at ${temporal} (${answer.detail}): the agent-runner will not become ready until it does.`
      if (req.requireTemporal) {
        throw new StigmerError(text, {
          code: 'TEMPORAL_UNREACHABLE',
          exit: ExitCode.TEMPORAL_UNREACHABLE,
          suggestions: [
            'Start a Temporal dev server: temporal server start-dev (or: stigmer temporal start, with the temporal plugin)',
            'Or point to yours: --temporal-address host:port',
          ],
        })
      }

      warn(`${text} Start it with: temporal server start-dev`)
    }

    ensureWorkspace(req.workspace, built.handTo, req.workspace === paths.defaultWorkspace)
    const {spec} = built
    const hash = specHash(spec, image.id)
    const labelled: ContainerSpec = {
      ...spec,
      labels: {
        [LABEL_CLI_VERSION]: req.cliVersion,
        [LABEL_IMAGE_REF]: req.image.ref,
        [LABEL_MANAGED]: 'true',
        [LABEL_NETWORK]: network.mode,
        [LABEL_NETWORK_REASON]: network.reason,
        [LABEL_SPEC_HASH]: hash,
        [LABEL_TEMPORAL]: temporal,
        [LABEL_WORKSPACE]: req.workspace,
      },
    }

    const digest = repoDigest(image.digests, req.image.ref)
    const result = (
      status: StartResult['status'],
      id: string,
      ready: {health: string; readyAfterMs: number},
      registered?: PollerReport,
    ): StartResult => ({
      containerId: id,
      containerName: CONTAINER_NAME,
      endpoint: engine.endpoint.url,
      health: ready.health,
      image: req.image.ref,
      imageDigest: digest,
      imageId: image.id,
      logsCommand: 'stigmer server logs -f',
      network: network.mode,
      networkReason: network.reason,
      pulled,
      readyAfterMs: ready.readyAfterMs,
      registered,
      runtime: runtime.name,
      status,
      warnings,
      workspace: req.workspace,
    })

    const record = (id: string) =>
      writeServerState(paths.serverStateFile, {
        cliVersion: req.cliVersion,
        containerId: id,
        containerName: CONTAINER_NAME,
        endpoint: engine.endpoint.url,
        image: req.image.ref,
        network: network.mode,
        networkReason: network.reason,
        runtime: runtime.name,
        startedAt: new Date().toISOString(),
        workspace: req.workspace,
      })

    const existing = await existingLookup
    let status: StartResult['status'] = 'started'
    if (existing) {
      if (existing.running && existing.labels[LABEL_SPEC_HASH] === hash) {
        ui.start('Agent-runner already running with this configuration')
        const ready = await waitUntilReady(runtime, existing.id, {
          hasHealthcheck: Boolean(existing.healthcheck),
          onProbe: (t) => ui.output(t),
          signal: req.signal,
          temporal,
          timeoutMs: req.timeoutMs,
        })
        ui.succeed(ready.health)
        const registered = await registration(req, {
          address: temporal,
          env: built.environment.env,
          spentMs: ready.readyAfterMs,
        })
        record(existing.id)
        finished = true
        return result('already-running', existing.id, ready, registered)
      }

      const why = existing.running ? 'its configuration changed' : `it is ${existing.status}`
      ui.start(`Replacing the existing container (${why})`)
      await runtime.removeContainer(existing.id, {force: true})
      logLifecycle(paths.lifecycleLog, 'replace', `removed container ${existing.id.slice(0, 12)} (${why})`)
      ui.succeed()
      status = 'replaced'
    }

    ui.start('Create container')
    try {
      createdId = await runtime.createContainer(labelled)
    } catch (error) {
      // Someone made one between our look and our create (not stigmer: it holds the lock): replace it.
      if (error instanceof RuntimeError && error.reason === 'conflict') {
        await runtime.removeContainer(CONTAINER_NAME, {force: true})
        createdId = await runtime.createContainer(labelled)
      } else {
        throw error
      }
    }

    ui.succeed(createdId.slice(0, 12))
    if (req.signal.aborted) throw new InterruptedError()
    ui.start('Start container')
    await runtime.startContainer(createdId)
    logLifecycle(
      paths.lifecycleLog,
      'start',
      `started container ${createdId.slice(0, 12)} from ${req.image.ref} on ${runtime.name} (${network.mode} networking)`,
      {image: req.image.ref, runtime: runtime.name},
    )
    ui.succeed()
    ui.start('Wait until ready')
    const ready = await waitUntilReady(runtime, createdId, {
      hasHealthcheck: Boolean(image.healthcheck),
      onProbe: (t) => ui.output(t),
      signal: req.signal,
      temporal,
      timeoutMs: req.timeoutMs,
    })
    ui.succeed(`${ready.health === 'none' ? 'running' : ready.health} after ${(ready.readyAfterMs / 1000).toFixed(1)}s`)
    const registered = await registration(req, {
      address: temporal,
      env: built.environment.env,
      spentMs: ready.readyAfterMs,
    })
    record(createdId)
    logLifecycle(
      paths.lifecycleLog,
      'ready',
      `container ${createdId.slice(0, 12)} ready (${ready.health}) after ${ready.readyAfterMs} ms`,
    )
    finished = true
    return result(status, createdId, ready, registered)
  } catch (error) {
    ui.fail()
    let leftBehind: string | undefined
    if (createdId && !finished) {
      // Never leave behind a container this run created but did not finish starting.
      const interrupted = req.signal.aborted
      await runtime.removeContainer(createdId, {force: true}).catch(() => {
        leftBehind = createdId
      })
      clearServerState(paths.serverStateFile)
      logLifecycle(
        paths.lifecycleLog,
        'cleanup',
        `removed container ${createdId.slice(0, 12)} after a failed start${interrupted ? ' (interrupted)' : ''}`,
      )
    }

    if (req.signal.aborted) throw new InterruptedError('Interrupted; nothing was left running')
    // The engine went away mid-start: exit 11; what could not be removed is named.
    const stopped = await ifEngineStopped(error, runtime, 'starting the agent-runner', {
      extraSuggestions: leftBehind
        ? [
            `The container ${leftBehind.slice(0, 12)} it had created could not be removed; once ${runtime.displayName} is back, stigmer server start replaces it (or stigmer server stop removes it).`,
          ]
        : [],
    })
    throw stopped ?? error
  } finally {
    await lock.release()
  }
}

export interface StopResult {
  readonly status: 'not-running' | 'stopped'
  readonly containerId: string | undefined
  readonly workspace: string | undefined
}

/** Stops and removes the managed container. Touches nothing else. */
export async function stopServer(
  runtime: ContainerRuntime,
  paths: StigmerPaths,
  options: {signal?: AbortSignal; timeoutSeconds: number; ui: TaskUi},
): Promise<StopResult> {
  const lock = await acquireLock(paths.serverLock, {signal: options.signal})
  try {
    const existing = await findManaged(runtime)
    const state = readServerState(paths.serverStateFile)
    if (!existing) {
      clearServerState(paths.serverStateFile)
      return {containerId: undefined, status: 'not-running', workspace: state?.workspace}
    }

    options.ui.start(`Stop ${CONTAINER_NAME}`)
    if (existing.running) await runtime.stopContainer(existing.id, {timeoutSeconds: options.timeoutSeconds})
    options.ui.succeed()
    options.ui.start('Remove container')
    await runtime.removeContainer(existing.id, {force: true})
    options.ui.succeed()
    clearServerState(paths.serverStateFile)
    logLifecycle(paths.lifecycleLog, 'stop', `stopped and removed container ${existing.id.slice(0, 12)}`)
    return {
      containerId: existing.id,
      status: 'stopped',
      workspace: existing.labels[LABEL_WORKSPACE] ?? state?.workspace,
    }
  } finally {
    await lock.release()
  }
}

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

/** Everything about the managed container, secrets masked by the caller. */
export async function serverStatus(
  runtime: ContainerRuntime,
  pinned: string,
  options: {registration?: boolean} = {},
): Promise<StatusResult> {
  const info = await findManaged(runtime)
  const base = {endpoint: runtime.endpoint.url, pinnedImage: pinned, runtime: runtime.name}
  if (!info) {
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

  let health: string = info.health
  let lastProbe = info.healthLog.at(-1)?.output.trim()
  // Always the check's answer now, never the engine's last verdict: the engine checks every 30 s
  // and calls a container unhealthy only after 3 failures (and Podman without systemd never
  // checks), so a runner that lost Temporal a second ago would still read "healthy".
  const temporal = info.running ? registrationTarget(info) : undefined
  const [probe, registered, image] = await Promise.all([
    info.running && info.healthcheck ? runtime.runHealthcheck(info.id).catch(() => undefined) : undefined,
    temporal && options.registration ? describeRegistration(temporal) : undefined,
    runtime.inspectImage(info.imageId).catch(() => undefined),
  ])
  if (probe) {
    health = probe.status === 'none' ? health : probe.status
    lastProbe = probe.output.trim() || lastProbe
  }

  const ref = info.labels[LABEL_IMAGE_REF] ?? info.image
  const started = info.startedAt ? Date.parse(info.startedAt) : Number.NaN
  const healthy = info.running && (health === 'healthy' || (!info.healthcheck && health === 'none'))
  return {
    ...base,
    cliVersion: info.labels[LABEL_CLI_VERSION],
    containerId: info.id,
    env: info.env,
    exitCode: info.running ? undefined : info.exitCode,
    health: info.healthcheck ? health : 'none',
    healthy,
    image: ref,
    imageDigest: image ? repoDigest(image.digests, ref) : undefined,
    imageId: info.imageId,
    imageVersion: image?.labels['org.opencontainers.image.version'],
    lastProbe,
    matchesPinned: ref === pinned,
    network: info.labels[LABEL_NETWORK] ?? info.network,
    networkReason: info.labels[LABEL_NETWORK_REASON],
    oomKilled: info.oomKilled,
    running: info.running,
    startedAt: info.startedAt,
    registration: registered,
    state: info.status,
    uptimeSeconds:
      info.running && Number.isFinite(started) ? Math.max(0, Math.round((Date.now() - started) / 1000)) : undefined,
    workspace: info.labels[LABEL_WORKSPACE] ?? info.binds.find((b) => b.containerPath === '/workspace')?.hostPath,
  }
}

import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  EngineInfo,
  ImageInfo,
  NetworkMode,
} from '../engine/types.js'
import type {ResolvedImage} from '../image/resolution.js'
import type {StigmerPaths} from '../lib/paths.js'
import type {TaskUi} from '../ui/tasks.js'

import {ifEngineStopped} from '../engine/engine-gone.js'
import {RuntimeError} from '../engine/errors.js'
import {firstRunPull, needsFirstRunPull} from '../image/first-run.js'
import {pullImage} from '../image/pull.js'
import {InterruptedError, StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {taskReporter} from '../ui/pull-reporter.js'
import {buildContainerEnv, envDefault} from './env.js'
import {logLifecycle} from './lifecycle-log.js'
import {acquireLock} from './lock.js'
import {waitUntilReady, waitUntilRegistered} from './readiness.js'
import {
  buildServerSpec,
  CONTAINER_NAME,
  type ContainerChoices,
  findManaged,
  LABEL_SPEC_HASH,
  LABEL_WORKSPACE,
  labelledSpec,
  repoDigest,
  type ServerSpec,
  specHash,
} from './spec.js'
import {clearServerState, readServerState, writeServerState} from './state.js'
import {type PollerReport, temporalAnswers, type TemporalAnswer} from './temporal.js'
import {ensureWorkspace} from './workspace.js'

/**
 * The agent-runner's lifecycle: `server start` (make sure the image is there, build the
 * container's spec, create, start and wait until it is ready, or keep the one already
 * running) and `server stop`. What the container is made of is in spec.ts, the workspace
 * folder in workspace.ts, when it counts as ready in readiness.ts.
 */

export type PullPolicy = 'always' | 'missing' | 'never'

export interface StartRequest extends ContainerChoices {
  readonly runtime: ContainerRuntime
  readonly image: ResolvedImage
  readonly pull: PullPolicy
  readonly pullTimeoutMs: number
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

/** Tells what runs when it is not what this CLI pins, and warns when the image has no health check. */
function announceImage(req: StartRequest, image: ImageInfo, warn: (text: string) => void): void {
  if (!image.healthcheck) warn(`The image ${req.image.ref} has no health check: it counts as ready once it runs.`)
  if (!req.image.isPinned && req.image.source !== '--use-local-image') {
    // Not an error: say what runs instead of the pinned version.
    req.ui.info(`Using ${req.image.ref} (from ${req.image.source}); this CLI pins ${req.image.pinned}.`)
  }
}

/** The preflight's answer from Temporal: with --require-temporal its silence stops the start, else a warning. */
function checkTemporal(
  req: StartRequest,
  temporal: string,
  answer: TemporalAnswer,
  warn: (text: string) => void,
): void {
  if (answer.ok) return
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

/** The invoking user's ids (the request's, for tests), which the container's user follows. */
function hostIds(req: StartRequest): {gid: number | undefined; uid: number | undefined} {
  return {
    gid: req.gid ?? (typeof process.getgid === 'function' ? process.getgid() : undefined),
    uid: req.uid ?? (typeof process.getuid === 'function' ? process.getuid() : undefined),
  }
}

/** Everything a start has settled before it touches a container. */
interface PreparedStart {
  readonly req: StartRequest
  readonly engine: EngineInfo
  readonly image: ImageInfo
  readonly pulled: boolean
  readonly built: ServerSpec
  /** The spec hash: a running container with the same one is kept. */
  readonly hash: string
  /** The container to create, labelled. */
  readonly labelled: ContainerSpec
  /** TEMPORAL_SERVICE_ADDRESS as the host reaches it. */
  readonly temporal: string
  readonly warnings: string[]
}

/** Where a start is: the container it created, removed again if the start fails. */
interface StartProgress {
  createdId?: string
}

/**
 * Before any container is touched: Temporal is asked from the host (a real gRPC call, before
 * any host-alias rewrite) and the existing container looked up while the image is checked;
 * then the spec is built and the workspace made.
 */
async function prepareStart(
  req: StartRequest,
  engine: EngineInfo,
  inspected: Promise<ImageInfo | undefined>,
  warnings: string[],
): Promise<{existing: Promise<ContainerInfo | undefined>; prepared: PreparedStart}> {
  const warn = (text: string) => {
    warnings.push(text)
    req.ui.warn(text)
  }

  const temporal = hostTemporalAddress(req)
  const answering = temporalAnswers(temporal, 2000)
  // The existing container is looked up beside the image check (its answer is awaited later).
  const existing = findManaged(req.runtime)
  existing.catch(() => {})
  const {image, pulled} = await ensureImage(req, inspected)
  announceImage(req, image, warn)
  const platform = req.platform ?? process.platform
  const built = buildServerSpec({...req, engine, imageUser: image.user, platform, ...hostIds(req)})
  if (built.network.caveat) warn(built.network.caveat)
  checkTemporal(req, temporal, await answering, warn)
  ensureWorkspace(req.workspace, built.handTo, req.workspace === req.paths.defaultWorkspace)
  const hash = specHash(built.spec, image.id)
  const labelled = labelledSpec(built.spec, {
    cliVersion: req.cliVersion,
    imageRef: req.image.ref,
    network: built.network,
    specHash: hash,
    temporal,
    workspace: req.workspace,
  })
  return {existing, prepared: {built, engine, hash, image, labelled, pulled, req, temporal, warnings}}
}

function startResult(
  p: PreparedStart,
  outcome: {
    id: string
    ready: {health: string; readyAfterMs: number}
    registered: PollerReport | undefined
    status: StartResult['status']
  },
): StartResult {
  const {req} = p
  const {id, ready, registered, status} = outcome
  return {
    containerId: id,
    containerName: CONTAINER_NAME,
    endpoint: p.engine.endpoint.url,
    health: ready.health,
    image: req.image.ref,
    imageDigest: repoDigest(p.image.digests, req.image.ref),
    imageId: p.image.id,
    logsCommand: 'stigmer server logs -f',
    network: p.built.network.mode,
    networkReason: p.built.network.reason,
    pulled: p.pulled,
    readyAfterMs: ready.readyAfterMs,
    registered,
    runtime: req.runtime.name,
    status,
    warnings: p.warnings,
    workspace: req.workspace,
  }
}

/** Records the running container in the server state file (what `server logs` and the engine choice read). */
function recordStarted(p: PreparedStart, id: string): void {
  const {req} = p
  writeServerState(req.paths.serverStateFile, {
    cliVersion: req.cliVersion,
    containerId: id,
    containerName: CONTAINER_NAME,
    endpoint: p.engine.endpoint.url,
    image: req.image.ref,
    network: p.built.network.mode,
    networkReason: p.built.network.reason,
    runtime: req.runtime.name,
    startedAt: new Date().toISOString(),
    workspace: req.workspace,
  })
}

/** Waits until the container is ready, showing what its check says meanwhile. */
async function untilReady(
  p: PreparedStart,
  id: string,
  hasHealthcheck: boolean,
): Promise<{health: string; readyAfterMs: number}> {
  const {req} = p
  return waitUntilReady(req.runtime, id, {
    hasHealthcheck,
    onProbe: (t) => req.ui.output(t),
    signal: req.signal,
    temporal: p.temporal,
    timeoutMs: req.timeoutMs,
  })
}

/** With --wait-for registered: waits for a poller on the task queue, within what is left of --timeout. */
async function untilRegistered(p: PreparedStart, ready: {readyAfterMs: number}): Promise<PollerReport | undefined> {
  if (p.req.waitFor !== 'registered') return undefined
  return waitUntilRegistered(p.req, {
    address: p.temporal,
    env: p.built.environment.env,
    spentMs: ready.readyAfterMs,
  })
}

/** The container already runs with this configuration: keep it, once it is ready. */
async function keepRunning(p: PreparedStart, existing: ContainerInfo): Promise<StartResult> {
  const {ui} = p.req
  ui.start('Agent-runner already running with this configuration')
  const ready = await untilReady(p, existing.id, Boolean(existing.healthcheck))
  ui.succeed(ready.health)
  const registered = await untilRegistered(p, ready)
  recordStarted(p, existing.id)
  return startResult(p, {id: existing.id, ready, registered, status: 'already-running'})
}

/** Removes a managed container that is stopped or runs another configuration. */
async function removeOutdated(req: StartRequest, existing: ContainerInfo): Promise<void> {
  const why = existing.running ? 'its configuration changed' : `it is ${existing.status}`
  req.ui.start(`Replacing the existing container (${why})`)
  await req.runtime.removeContainer(existing.id, {force: true})
  logLifecycle(req.paths.lifecycleLog, 'replace', `removed container ${existing.id.slice(0, 12)} (${why})`)
  req.ui.succeed()
}

/** Creates the container; one someone made between our look and our create (not stigmer: it holds the lock) is replaced. */
async function createContainer(runtime: ContainerRuntime, spec: ContainerSpec): Promise<string> {
  try {
    return await runtime.createContainer(spec)
  } catch (error) {
    if (!(error instanceof RuntimeError && error.reason === 'conflict')) throw error
    await runtime.removeContainer(CONTAINER_NAME, {force: true})
    return runtime.createContainer(spec)
  }
}

/** Creates and starts the container, then waits until it is ready (and registered, when asked). */
async function createAndStart(
  p: PreparedStart,
  status: StartResult['status'],
  progress: StartProgress,
): Promise<StartResult> {
  const {req} = p
  const {paths, runtime, ui} = req
  ui.start('Create container')
  const id = await createContainer(runtime, p.labelled)
  progress.createdId = id
  ui.succeed(id.slice(0, 12))
  if (req.signal.aborted) throw new InterruptedError()
  ui.start('Start container')
  await runtime.startContainer(id)
  logLifecycle(
    paths.lifecycleLog,
    'start',
    `started container ${id.slice(0, 12)} from ${req.image.ref} on ${runtime.name} (${p.built.network.mode} networking)`,
    {image: req.image.ref, runtime: runtime.name},
  )
  ui.succeed()
  ui.start('Wait until ready')
  const ready = await untilReady(p, id, Boolean(p.image.healthcheck))
  ui.succeed(`${ready.health === 'none' ? 'running' : ready.health} after ${(ready.readyAfterMs / 1000).toFixed(1)}s`)
  const registered = await untilRegistered(p, ready)
  recordStarted(p, id)
  logLifecycle(
    paths.lifecycleLog,
    'ready',
    `container ${id.slice(0, 12)} ready (${ready.health}) after ${ready.readyAfterMs} ms`,
  )
  return startResult(p, {id, ready, registered, status})
}

/**
 * After a failed start: never leave behind a container this run created but did not finish
 * starting. Returns the error to throw: an interruption, the engine gone (exit 11, naming
 * what could not be removed), or the failure itself.
 */
async function failedStart(req: StartRequest, createdId: string | undefined, error: unknown): Promise<unknown> {
  const {paths, runtime} = req
  let leftBehind: string | undefined
  if (createdId) {
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

  if (req.signal.aborted) return new InterruptedError('Interrupted; nothing was left running')
  const stopped = await ifEngineStopped(error, runtime, 'starting the agent-runner', {
    extraSuggestions: leftBehind
      ? [
          `The container ${leftBehind.slice(0, 12)} it had created could not be removed; once ${runtime.displayName} is back, stigmer server start replaces it (or stigmer server stop removes it).`,
        ]
      : [],
  })
  return stopped ?? error
}

/**
 * `stigmer server start`: converge on one healthy, managed agent-runner
 * container. Idempotent; serialised by a lock; Ctrl-C removes what this run
 * created and releases the lock.
 */
export async function startServer(req: StartRequest): Promise<StartResult> {
  const {runtime, ui} = req
  ui.start(`Engine: ${runtime.displayName}`)
  // The image is inspected beside the engine's info (a cached answer on a warm start): both are needed.
  const inspected = runtime.inspectImage(req.image.ref)
  inspected.catch(() => {})
  const engine = await runtime.info()
  ui.succeed(`${engine.name} ${engine.version}`)

  const lock = await acquireLock(req.paths.serverLock, {
    onWait: () => ui.info('Another stigmer command is changing the agent-runner; waiting for it...'),
    signal: req.signal,
  })
  const progress: StartProgress = {}
  try {
    const {existing: lookup, prepared} = await prepareStart(req, engine, inspected, [])
    const existing = await lookup
    if (existing?.running && existing.labels[LABEL_SPEC_HASH] === prepared.hash)
      return await keepRunning(prepared, existing)
    if (existing) await removeOutdated(req, existing)
    return await createAndStart(prepared, existing ? 'replaced' : 'started', progress)
  } catch (error) {
    ui.fail()
    throw await failedStart(req, progress.createdId, error)
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

import type {ContainerInfo, ContainerRuntime, HealthcheckRunResult, HealthStatus} from '../engine/types.js'
import type {TaskUi} from '../ui/tasks.js'

import {RuntimeError} from '../engine/errors.js'
import {InterruptedError, StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {taskQueueOf} from './env.js'
import {type PollerReport, taskQueuePollers, temporalAnswers} from './temporal.js'

/**
 * When the agent-runner counts as ready: the one rule for "healthy" (judgeHealth, which
 * `server start` and `server status` both use), the probe loop of `server start`
 * (waitUntilReady) and, with --wait-for registered, the wait for a poller on its task queue.
 */

/** Whether one run of the image's check passed. */
export function probePasses(probe: Pick<HealthcheckRunResult, 'exitCode' | 'status'>): boolean {
  return probe.status === 'healthy' || probe.exitCode === 0
}

export interface HealthFacts {
  readonly running: boolean
  /** Whether the container has a health check (the image's). */
  readonly hasHealthcheck: boolean
  /** The engine's last verdict (ContainerInfo.health). */
  readonly engineHealth: HealthStatus
  /** A run of the check just now, when there is one: its answer wins over the engine's. */
  readonly probe?: Pick<HealthcheckRunResult, 'exitCode' | 'status'> | undefined
}

/**
 * The one rule for "healthy". A container without a health check is healthy while it
 * runs (health "none"). With one, the check's own answer decides when it was just run
 * (it passes: healthy); otherwise the engine's last verdict does. Never healthy when
 * not running.
 */
export function judgeHealth(facts: HealthFacts): {health: string; healthy: boolean} {
  if (!facts.hasHealthcheck) return {health: 'none', healthy: facts.running}
  const {probe} = facts
  let health: string = facts.engineHealth
  if (probe && probePasses(probe)) health = 'healthy'
  else if (probe && probe.status !== 'none') health = probe.status
  return {health, healthy: facts.running && health === 'healthy'}
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

/** What a failed start shows under its message: the last check output and the last 50 log lines. */
async function failureDetails(
  runtime: ContainerRuntime,
  id: string,
  info: ContainerInfo | undefined,
  lastProbe: string | undefined,
): Promise<string> {
  return `Last health-check output: ${describeProbe(info, lastProbe)}\n\nLast 50 log lines:\n${await logTail(runtime, id)}`
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
 * How the container stopped while starting, or undefined when it is still starting or
 * running. The restart policy (unless-stopped) brings a crashed container back at once:
 * the engine then shows it "restarting" or running again with a higher restart count (and
 * Docker marks it unhealthy). That is a crash too, not a container that is still starting.
 */
function crashOf(info: ContainerInfo, restartsBefore: number): string | undefined {
  const restarted = info.status === 'restarting' || info.restartCount > restartsBefore
  if (!restarted && (info.running || info.status === 'created')) return undefined
  if (info.oomKilled) return 'was killed for running out of memory (OOM)'
  return info.running ? 'exited and was restarted by the engine' : `exited with code ${info.exitCode}`
}

function disappeared(): StigmerError {
  return new StigmerError('The agent-runner container disappeared while starting (someone removed it).', {
    code: 'CONTAINER_EXITED',
    exit: ExitCode.CONTAINER_EXITED,
  })
}

function exitedError(info: ContainerInfo, why: string, details: string): StigmerError {
  return new StigmerError(`The agent-runner container ${why} while starting.`, {
    code: 'CONTAINER_EXITED',
    data: {exitCode: info.exitCode, oomKilled: info.oomKilled},
    details,
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

function unhealthyError(details: string): StigmerError {
  return new StigmerError('The agent-runner container reports unhealthy.', {
    code: 'CONTAINER_UNHEALTHY',
    details,
    exit: ExitCode.CONTAINER_UNHEALTHY,
    kind: 'external',
    suggestions: [
      'Is Temporal running at TEMPORAL_SERVICE_ADDRESS? (stigmer doctor checks it)',
      'Read the logs: stigmer server logs',
    ],
  })
}

/** The start timed out: Temporal is asked again, so that its silence is named as the reason. */
async function timeoutError(
  options: Pick<ReadyOptions, 'temporal' | 'timeoutMs'>,
  details: () => Promise<string>,
): Promise<StigmerError> {
  const temporal = options.temporal ? await temporalAnswers(options.temporal, 2000) : undefined
  const temporalSilent = temporal !== undefined && !temporal.ok
  const because = temporalSilent
    ? `: Temporal does not answer at ${options.temporal} (${temporal.detail}), and the agent-runner is ready only once it is connected to Temporal`
    : ''
  return new StigmerError(
    `The agent-runner did not become ready within ${Math.round(options.timeoutMs / 1000)} s${because}.`,
    {
      code: 'START_TIMEOUT',
      data: {temporalAnswers: temporal?.ok ?? null},
      details: await details(),
      exit: ExitCode.START_TIMEOUT,
      kind: 'external',
      suggestions: temporalSilent
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

/**
 * One probe: the image's check (when the container runs) beside the next inspect, which
 * the next round judges. One round trip of the two, not one after the other, and the
 * adapter is handed this inspect instead of asking again.
 */
async function probeRound(
  runtime: ContainerRuntime,
  id: string,
  info: ContainerInfo,
): Promise<[HealthcheckRunResult | undefined, ContainerInfo | undefined]> {
  return Promise.all([
    info.running
      ? runtime.runHealthcheck(id, info).catch((error: unknown) => {
          if (error instanceof RuntimeError && error.reason === 'aborted') throw new InterruptedError()
          // The container may be exiting: the next inspect says so.
          return undefined
        })
      : undefined,
    runtime.inspectContainer(id),
  ])
}

export interface ReadyOptions {
  hasHealthcheck: boolean
  onProbe?: (text: string) => void
  signal: AbortSignal
  /** Where the runner's Temporal is, from the host: asked again on timeout, to name it as the reason. */
  temporal?: string
  timeoutMs: number
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
  options: ReadyOptions,
): Promise<{health: string; readyAfterMs: number}> {
  const started = Date.now()
  const ready = (health: string) => ({health, readyAfterMs: Date.now() - started})
  let lastProbe: string | undefined
  let restartsBefore: number | undefined
  let info = await runtime.inspectContainer(id)
  for (;;) {
    if (options.signal.aborted)
      throw new InterruptedError('Interrupted while waiting for the agent-runner to become ready')
    const probeStarted = Date.now()
    if (!info) throw disappeared()
    const judged = info
    const details = () => failureDetails(runtime, id, judged, lastProbe)
    restartsBefore ??= info.restartCount
    const crash = crashOf(info, restartsBefore)
    if (crash) throw exitedError(info, crash, await details())
    if (info.health === 'unhealthy' && unhealthyIsCredible(info, started)) throw unhealthyError(await details())
    const facts = {engineHealth: info.health, hasHealthcheck: options.hasHealthcheck, running: info.running}
    const engineSays = judgeHealth(facts)
    if (engineSays.healthy) return ready(engineSays.health)

    const [probe, next] = await probeRound(runtime, id, info)
    info = next
    if (probe) {
      lastProbe = probe.output
      if (judgeHealth({...facts, probe}).healthy) return ready('healthy')
      if (probe.status === 'unhealthy' && probe.exitCode !== 0 && probe.output)
        options.onProbe?.(`not ready yet: ${probe.output.split('\n')[0]}`)
    }

    if (Date.now() - started > options.timeoutMs) throw await timeoutError(options, details)
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

/**
 * --wait-for registered: after the container is ready (connected), waits
 * until Temporal lists a poller on the runner's task queue
 * (DescribeTaskQueue), within what is left of --timeout.
 */
export async function waitUntilRegistered(
  options: {signal: AbortSignal; timeoutMs: number; ui: TaskUi},
  target: {address: string; env: Readonly<Record<string, string | undefined>>; spentMs: number},
): Promise<PollerReport> {
  const {address: temporal, spentMs} = target
  const {namespace, taskQueue} = taskQueueOf(target.env)
  options.ui.start(`Wait until registered with Temporal (task queue ${taskQueue})`)
  const deadline = Date.now() + Math.max(options.timeoutMs - spentMs, 1000)
  let last = ''
  for (;;) {
    if (options.signal.aborted) throw new InterruptedError('Interrupted while waiting for the worker to register')
    try {
      const report = await taskQueuePollers(temporal, namespace, taskQueue)
      if (report.pollers.length > 0) {
        options.ui.succeed(`${report.pollers.length} poller(s) on ${taskQueue}`)
        return report
      }

      last = `Temporal at ${temporal} lists no poller on ${taskQueue} in namespace ${namespace}`
    } catch (error) {
      last = (error as Error).message
    }

    if (Date.now() > deadline) {
      throw new StigmerError(
        `The agent-runner did not register with Temporal within ${Math.round(options.timeoutMs / 1000)} s.`,
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

/**
 * A Temporal development server (`temporal server start-dev`) as a container named
 * stigmer-temporal, on whatever engine stigmer uses, through the same ContainerRuntime
 * as `stigmer server`, so that localhost:7233 (gRPC) and localhost:8233 (the web UI)
 * answer on this machine, where `stigmer server start` looks for Temporal by default:
 * host networking where the engine runs containers on this machine (Linux), its ports
 * published on 127.0.0.1 where it runs them in a VM (Docker Desktop, Podman machine).
 */
import type {ContainerInfo, ContainerRuntime, ContainerSpec, ProgressEvent} from '@stigmer/cli/plugin-api'

import {api} from './host.js'

export const CONTAINER_NAME = 'stigmer-temporal'
/** The Temporal CLI image, pinned: its entrypoint is `temporal`. */
export const DEFAULT_IMAGE = 'temporalio/temporal:1.9.1'
export const DEFAULT_PORT = 7233
export const LABEL = 'io.stigmer.plugin'
const PORT_LABEL = 'io.stigmer.temporal.port'
const UI_PORT_LABEL = 'io.stigmer.temporal.ui-port'

export type TemporalNetwork = 'bridge' | 'host'

export interface TemporalOptions {
  readonly image: string
  readonly port: number
  /** Web UI port; the dev server's default is port + 1000. */
  readonly uiPort: number
  /** host: the host's network; bridge: both ports published on the host's 127.0.0.1. */
  readonly network: TemporalNetwork
}

/**
 * Host networking puts the ports on this machine only where the engine runs containers
 * directly on it (Linux). Docker Desktop, a Podman machine or Colima run them in a VM,
 * whose localhost is not this machine's: there the ports are published instead.
 */
export function networkFor(
  engine: {displayName: string; inVm: boolean},
  asked?: TemporalNetwork,
): {mode: TemporalNetwork; reason: string} {
  if (asked) return {mode: asked, reason: `${asked} networking was asked for (--network)`}
  return engine.inVm
    ? {mode: 'bridge', reason: `${engine.displayName} runs containers in a VM: the ports are published on 127.0.0.1`}
    : {mode: 'host', reason: `${engine.displayName} runs containers on this machine: host networking`}
}

/** The container: `temporal server start-dev` listening on all its addresses. */
export function temporalSpec(options: TemporalOptions): ContainerSpec {
  const bridge = options.network === 'bridge'
  return {
    binds: [],
    command: [
      'server',
      'start-dev',
      '--ip',
      '0.0.0.0',
      '--port',
      String(options.port),
      '--ui-port',
      String(options.uiPort),
    ],
    env: {},
    image: options.image,
    labels: {[LABEL]: 'temporal', [PORT_LABEL]: String(options.port), [UI_PORT_LABEL]: String(options.uiPort)},
    name: CONTAINER_NAME,
    network: options.network,
    ...(bridge
      ? {
          ports: [
            {containerPort: options.port, hostPort: options.port},
            {containerPort: options.uiPort, hostPort: options.uiPort},
          ],
        }
      : {}),
    restartPolicy: 'no',
    stopTimeoutSeconds: 10,
  }
}

export function address(port: number): string {
  return `localhost:${port}`
}

/** host, or bridge for any other network an engine names (Podman may name its default one). */
export function networkOf(info: Pick<ContainerInfo, 'network'>): TemporalNetwork {
  return info.network === 'host' ? 'host' : 'bridge'
}

/** Where the container says it listens (its labels), else the default. */
export function portOf(info: Pick<ContainerInfo, 'labels'>): number {
  const port = Number(info.labels[PORT_LABEL])
  return Number.isInteger(port) && port > 0 ? port : DEFAULT_PORT
}

export interface StartResult {
  readonly name: string
  readonly id: string
  readonly image: string
  readonly runtime: string
  readonly address: string
  readonly ui: string
  readonly network: TemporalNetwork
  readonly alreadyRunning: boolean
  readonly pulled: boolean
  readonly seconds: number
}

export interface StartContext {
  readonly runtime: ContainerRuntime
  readonly note: (message: string) => void
  readonly onProgress?: (event: ProgressEvent) => void
  readonly signal?: AbortSignal
  readonly timeoutMs: number
  /** Whether the server answers at an address; overridable for tests. */
  readonly answers?: (address: string) => Promise<boolean>
  readonly sleep?: (ms: number) => Promise<void>
}

const wait = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms)
  })

/**
 * Starts the dev server and resolves once its port answers. Idempotent: a running
 * stigmer-temporal with the same image and port is left as it is.
 */
export async function startTemporal(options: TemporalOptions, ctx: StartContext): Promise<StartResult> {
  const {runtime} = ctx
  const answers = ctx.answers ?? ((a: string) => api.grpcAnswers(a, 1000))
  const sleep = ctx.sleep ?? wait
  const started = Date.now()
  const probe = `127.0.0.1:${options.port}`
  const result = (id: string, alreadyRunning: boolean, pulled: boolean): StartResult => ({
    address: address(options.port),
    alreadyRunning,
    id,
    image: options.image,
    name: CONTAINER_NAME,
    network: options.network,
    pulled,
    runtime: runtime.name,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    ui: `http://localhost:${options.uiPort}`,
  })

  const existing = await runtime.inspectContainer(CONTAINER_NAME)
  if (existing?.running) {
    if (
      existing.image === options.image &&
      portOf(existing) === options.port &&
      networkOf(existing) === options.network
    ) {
      await waitForPort(existing.id, probe, {...ctx, answers, sleep}, started)
      return result(existing.id, true, false)
    }

    throw new api.StigmerError(
      `${CONTAINER_NAME} is already running with ${existing.image} on port ${portOf(existing)} (${networkOf(existing)} networking), not ${options.image} on port ${options.port} (${options.network}).`,
      {
        code: 'TEMPORAL_CONFLICT',
        exit: api.ExitCode.USAGE,
        kind: 'user',
        suggestions: ['Stop it first: stigmer temporal stop'],
      },
    )
  }

  // Anything accepting connections there is in the way, whether it speaks or not.
  if (await api.canConnect(probe, 1000)) {
    throw new api.StigmerError(
      `Something else already listens on ${address(options.port)}: it is not stigmer's Temporal container.`,
      {
        code: 'PORT_IN_USE',
        exit: api.ExitCode.GENERAL,
        kind: 'user',
        suggestions: [
          'If that is a Temporal server already (temporal server start-dev), stigmer server start can use it as it is.',
          `Or run this one on another port: stigmer temporal start --port 17233 (then: stigmer server start --temporal-address localhost:17233)`,
        ],
      },
    )
  }

  if (existing) await runtime.removeContainer(existing.id, {force: true})

  let pulled = false
  if (!(await runtime.imageExists(options.image))) {
    ctx.note(`Pulling ${options.image} (once)...`)
    try {
      await runtime.pullImage(options.image, {
        ...(ctx.onProgress ? {onProgress: ctx.onProgress} : {}),
        ...(ctx.signal ? {signal: ctx.signal} : {}),
      })
    } catch (error) {
      throw pullError(error, options.image, runtime)
    }

    pulled = true
  }

  ctx.note(`Starting ${CONTAINER_NAME} (${options.image}) on ${runtime.displayName}...`)
  const id = await runtime.createContainer(temporalSpec(options))
  await runtime.startContainer(id)
  await waitForPort(id, probe, {...ctx, answers, sleep}, started)
  return result(id, false, pulled)
}

function pullError(error: unknown, image: string, runtime: ContainerRuntime): Error {
  if (error instanceof api.StigmerError || api.isAbortError(error)) return error as Error
  const {reason} = error as {reason?: string}
  const notFound = reason === 'not-found'
  return new api.StigmerError(`Could not pull ${image}: ${api.messageOf(error)}`, {
    cause: error,
    code: notFound ? 'IMAGE_NOT_FOUND' : reason === 'auth' ? 'REGISTRY_AUTH' : 'PULL_FAILED',
    command: `${runtime.cli} pull ${image}`,
    exit: notFound
      ? api.ExitCode.IMAGE_NOT_FOUND
      : reason === 'auth'
        ? api.ExitCode.REGISTRY_AUTH
        : api.ExitCode.PULL_FAILED,
    kind: 'external',
    suggestions: notFound
      ? ['Check the name and tag given with --image.']
      : ['Check the network and the registry, then try again.'],
  })
}

async function waitForPort(
  id: string,
  probe: string,
  ctx: StartContext & {answers: (a: string) => Promise<boolean>; sleep: (ms: number) => Promise<void>},
  started: number,
): Promise<void> {
  const deadline = started + ctx.timeoutMs
  for (;;) {
    if (ctx.signal?.aborted) throw new api.InterruptedError()
    if (await ctx.answers(probe)) return
    const info = await ctx.runtime.inspectContainer(id)
    if (!info?.running) {
      const tail = await logTail(ctx.runtime, id)
      throw new api.StigmerError(
        `${CONTAINER_NAME} exited${info ? ` with code ${info.exitCode}` : ''} before ${probe} answered.`,
        {
          code: 'CONTAINER_EXITED',
          details: tail ? `Last log lines:\n${tail}` : undefined,
          exit: api.ExitCode.CONTAINER_EXITED,
          kind: 'external',
          suggestions: [`See its logs: ${ctx.runtime.cli} logs ${CONTAINER_NAME}`],
        },
      )
    }

    if (Date.now() >= deadline) {
      throw new api.StigmerError(
        `${probe} did not answer within ${Math.round(ctx.timeoutMs / 1000)} s; ${CONTAINER_NAME} is still running.`,
        {
          code: 'START_TIMEOUT',
          exit: api.ExitCode.START_TIMEOUT,
          kind: 'external',
          suggestions: [`See its logs: ${ctx.runtime.cli} logs ${CONTAINER_NAME}`, 'Give it longer: --timeout 180'],
        },
      )
    }

    await ctx.sleep(250)
  }
}

async function logTail(runtime: ContainerRuntime, id: string): Promise<string> {
  const lines: string[] = []
  try {
    for await (const line of runtime.logs(id, {tail: 20})) lines.push(line.text)
  } catch {
    // the logs are a courtesy
  }

  return lines.join('\n').trim()
}

export interface StopResult {
  readonly name: string
  readonly stopped: boolean
  readonly runtime: string
}

/** Stops and removes the container; nothing to do when it is not there. */
export async function stopTemporal(runtime: ContainerRuntime): Promise<StopResult> {
  const existing = await runtime.inspectContainer(CONTAINER_NAME)
  if (!existing) return {name: CONTAINER_NAME, runtime: runtime.name, stopped: false}
  if (existing.running) await runtime.stopContainer(existing.id, {timeoutSeconds: 10})
  await runtime.removeContainer(existing.id, {force: true})
  return {name: CONTAINER_NAME, runtime: runtime.name, stopped: true}
}

export interface StatusResult {
  readonly name: string
  readonly runtime: string
  /** absent, or the engine's state (running, exited, ...). */
  readonly state: string
  readonly running: boolean
  readonly image: string | undefined
  readonly address: string
  /** Whether a server answers at localhost:<port> (not just a port forwarder accepting connections). */
  readonly answering: boolean
  readonly startedAt: string | undefined
}

export async function temporalStatus(
  runtime: ContainerRuntime,
  answers: (address: string) => Promise<boolean> = (a) => api.grpcAnswers(a, 1000),
): Promise<StatusResult> {
  const info = await runtime.inspectContainer(CONTAINER_NAME)
  const port = info ? portOf(info) : DEFAULT_PORT
  return {
    address: address(port),
    answering: info?.running ? await answers(`127.0.0.1:${port}`) : false,
    image: info?.image,
    name: CONTAINER_NAME,
    running: info?.running ?? false,
    runtime: runtime.name,
    startedAt: info?.startedAt,
    state: info ? info.status : 'absent',
  }
}

/** 0 running and answering, 4 running but not answering, 3 not running. */
export function statusExitCode(status: Pick<StatusResult, 'answering' | 'running'>): number {
  if (!status.running) return api.ExitCode.NOT_RUNNING
  return status.answering ? api.ExitCode.OK : api.ExitCode.NOT_HEALTHY
}

import type {ContainerInfo, ContainerRuntime, LogLine, LogOptions} from '../engine/types.js'
import type {StigmerPaths} from '../lib/paths.js'

import {ifEngineStopped} from '../engine/engine-gone.js'
import {StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {parseDurationSeconds} from '../lib/format.js'
import {addSecretsFromEnv, redact} from '../lib/redact.js'
import {forTerminal} from '../lib/terminal.js'
import {readLifecycle} from './lifecycle-log.js'
import {CONTAINER_NAME} from './spec.js'

/** --since: a duration ago ("10m") as unix seconds, or an RFC 3339 time as given. */
export function parseSince(value: string, now = Date.now()): number | string {
  const duration = parseDurationSeconds(value)
  if (duration !== undefined) {
    // Engines take a unix time: one before 1970 (or not a number at all) is no time they can use.
    if (!Number.isFinite(duration) || duration > now / 1000)
      throw usageError(`--since "${value}" reaches back before 1970.`, [
        'Use a duration shorter than that (30s, 10m, 2h, 7d as 168h) or an RFC 3339 time (2026-11-28T09:00:00Z).',
      ])
    return Math.floor(now / 1000 - duration)
  }

  if (/^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(value) && !Number.isNaN(Date.parse(value))) {
    return Math.floor(Date.parse(value) / 1000)
  }

  throw usageError(`--since "${value}" is neither a duration nor a time.`, [
    'Use a duration (30s, 10m, 2h) or an RFC 3339 time (2026-11-28T09:00:00Z).',
  ])
}

export interface LogsOptions {
  readonly all: boolean
  readonly since: number | string | undefined
  readonly tail: number | undefined
  readonly timestamps: boolean
}

function noContainer(runtime: ContainerRuntime): StigmerError {
  return new StigmerError(
    `There is no agent-runner container (${CONTAINER_NAME}) in ${runtime.displayName}, so there are no logs to show.`,
    {
      code: 'NO_CONTAINER',
      exit: ExitCode.NO_CONTAINER,
      suggestions: [
        'Start it: stigmer server start',
        "stigmer's own record of earlier runs: stigmer server logs --all",
      ],
    },
  )
}

/**
 * A container's lines a batch at a time: the runtime's own batches when it has them
 * (one promise per chunk of the engine's stream), otherwise its lines one by one.
 * @yields batches of lines, in the order the engine sent them.
 */
export async function* lineBatches(
  runtime: ContainerRuntime,
  id: string,
  options: LogOptions,
): AsyncGenerator<readonly LogLine[]> {
  if (runtime.logBatches) {
    yield* runtime.logBatches(id, options)
    return
  }

  for await (const line of runtime.logs(id, options)) yield [line]
}

interface Entry {
  source: 'agent-runner' | 'stigmer'
  stream: 'stderr' | 'stdout'
  text: string
  timestamp: string | undefined
}

async function collect(
  runtime: ContainerRuntime,
  id: string | undefined,
  paths: StigmerPaths,
  options: LogsOptions,
): Promise<Entry[]> {
  const entries: Entry[] = []
  if (id) {
    for await (const batch of lineBatches(runtime, id, {
      timestamps: options.timestamps || options.all,
      ...(options.since === undefined ? {} : {since: options.since}),
      ...(options.tail === undefined ? {} : {tail: options.tail}),
    })) {
      for (const line of batch)
        entries.push({source: 'agent-runner', stream: line.stream, text: line.text, timestamp: line.timestamp})
    }
  }

  if (options.all) {
    const sinceMs =
      options.since === undefined
        ? undefined
        : typeof options.since === 'number'
          ? options.since * 1000
          : Date.parse(options.since)
    for (const e of readLifecycle(paths.lifecycleLog)) {
      if (sinceMs !== undefined && Date.parse(e.time) < sinceMs) continue
      entries.push({source: 'stigmer', stream: 'stdout', text: `${e.event}: ${e.message}`, timestamp: e.time})
    }

    // Stable sort by time: engine timestamps have nanoseconds, ours milliseconds; both sort as ISO strings after normalising.
    const key = (t: string | undefined) =>
      t ? new Date(Date.parse(t)).toISOString() + t.slice(23, 29).replaceAll(/\D/g, '') : ''
    entries.sort((a, b) => key(a.timestamp).localeCompare(key(b.timestamp)))
    if (options.tail !== undefined) return entries.slice(-options.tail)
  }

  return entries
}

/** For --json: the lines, each with its source and stream. */
export async function readLogs(runtime: ContainerRuntime, paths: StigmerPaths, options: LogsOptions): Promise<Entry[]> {
  const container = await runtime.inspectContainer(CONTAINER_NAME)
  if (!container && !options.all) throw noContainer(runtime)
  if (container) addSecretsFromEnv(container.env)
  return (await collect(runtime, container?.id, paths, options)).map((e) => ({...e, text: redact(e.text)}))
}

/** Batches writes: per-line writes would make 50 MB of logs slow. */
class BufferedOut {
  private err = ''
  private out = ''

  flush(): void {
    if (this.out) process.stdout.write(this.out)
    if (this.err) process.stderr.write(this.err)
    this.out = ''
    this.err = ''
  }

  write(stream: 'stderr' | 'stdout', text: string): void {
    if (stream === 'stderr') this.err += text
    else this.out += text
    if (this.out.length + this.err.length > 65_536) this.flush()
  }
}

function render(
  line: Pick<LogLine, 'stream' | 'text' | 'timestamp'>,
  options: {all: boolean; timestamps: boolean},
  source = 'agent-runner',
): string {
  const time = options.timestamps && line.timestamp ? `${line.timestamp} ` : ''
  const label = options.all ? `[${source}${line.stream === 'stderr' ? ':stderr' : ''}] ` : ''
  return `${time}${label}${line.text}\n`
}

/** Where the lines go: batched per stream (all to stdout with --all), redacted, counted. */
class LogSink {
  count = 0
  private readonly out = new BufferedOut()

  constructor(private readonly all: boolean) {}

  emit(stream: 'stderr' | 'stdout', text: string): void {
    const to = this.all ? 'stdout' : stream
    this.out.write(to, forTerminal(redact(text), to === 'stdout' ? process.stdout : process.stderr))
    this.count++
  }

  flush(): void {
    this.out.flush()
  }
}

type FollowOptions = LogsOptions & {follow: boolean; note: (text: string) => void; signal: AbortSignal}

/** Which container to stream next, and from where in its log. */
interface Cursor {
  readonly container: ContainerInfo | undefined
  readonly since?: number | string | undefined
  readonly tail?: number | undefined
}

/**
 * Prints the logs; with follow, keeps streaming until Ctrl-C, and follows a
 * replacement container instead of ending silently. Returns the line count.
 */
export async function followLogs(
  runtime: ContainerRuntime,
  paths: StigmerPaths,
  options: FollowOptions,
): Promise<number> {
  const container = await runtime.inspectContainer(CONTAINER_NAME)
  if (!container && !options.all) throw noContainer(runtime)
  // The secret values the container was given are masked in its lines, as the host's are.
  if (container) addSecretsFromEnv(container.env)
  const sink = new LogSink(options.all)

  if (options.all) {
    for (const e of await collect(runtime, container?.id, paths, options))
      sink.emit(e.stream, render(e, options, e.source))
    sink.flush()
    if (!options.follow || !container) return sink.count
  }

  const timer = setInterval(() => sink.flush(), 100)
  timer.unref()
  try {
    await followContainers(runtime, sink, options, {
      container,
      ...(options.all ? {since: Math.floor(Date.now() / 1000)} : {since: options.since, tail: options.tail}),
    })
  } finally {
    clearInterval(timer)
    sink.flush()
  }

  return sink.count
}

/** Streams one container after another (a replacement, a restart) until the stream ends for good. */
async function followContainers(
  runtime: ContainerRuntime,
  sink: LogSink,
  options: FollowOptions,
  first: Cursor,
): Promise<void> {
  // The engine stopping under us ends the command with exit 11, never a silent wait.
  const stopped = async (error: unknown): Promise<never> => {
    sink.flush()
    throw (
      (await ifEngineStopped(error, runtime, `following the logs of ${CONTAINER_NAME}`, {signal: options.signal})) ??
      error
    )
  }

  let cursor = first
  while (cursor.container) {
    try {
      for await (const batch of lineBatches(runtime, cursor.container.id, {
        follow: options.follow,
        signal: options.signal,
        timestamps: options.timestamps,
        ...(cursor.since === undefined ? {} : {since: cursor.since}),
        ...(cursor.tail === undefined ? {} : {tail: cursor.tail}),
      })) {
        for (const line of batch) sink.emit(line.stream, render(line, options))
      }
    } catch (error) {
      await stopped(error)
    }

    sink.flush()
    if (!options.follow || options.signal.aborted) return
    cursor = await afterStreamEnded(runtime, cursor.container, options, stopped)
  }
}

/** The stream ended: the container stopped or was replaced. Says so, and finds the one to follow next. */
async function afterStreamEnded(
  runtime: ContainerRuntime,
  previous: ContainerInfo,
  options: FollowOptions,
  stopped: (error: unknown) => Promise<never>,
): Promise<Cursor> {
  const now = await runtime.inspectContainer(CONTAINER_NAME).catch(stopped)
  if (now && now.id !== previous.id) {
    options.note(`--- ${CONTAINER_NAME} was replaced (new container ${now.id.slice(0, 12)}); following it ---`)
    addSecretsFromEnv(now.env)
    return {container: now}
  }

  options.note(
    now
      ? `--- ${CONTAINER_NAME} ${now.status === 'exited' ? `exited with code ${now.exitCode}` : `is ${now.status}`}; waiting for it to run again (Ctrl-C to quit) ---`
      : `--- ${CONTAINER_NAME} was removed; waiting for a new one (Ctrl-C to quit) ---`,
  )
  while (!options.signal.aborted) {
    await new Promise((r) => setTimeout(r, 500))
    const next = await runtime
      .inspectContainer(CONTAINER_NAME)
      .catch(async (error: unknown) =>
        (await ifEngineStopped(error, runtime, `waiting for ${CONTAINER_NAME}`)) ? stopped(error) : undefined,
      )
    if (next && (next.id !== previous.id || next.running)) {
      if (next.id !== previous.id) options.note(`--- following new container ${next.id.slice(0, 12)} ---`)
      addSecretsFromEnv(next.env)
      // The same container running again: only what it writes from now on.
      return next.id === previous.id ? {container: next, since: Math.floor(Date.now() / 1000)} : {container: next}
    }
  }

  return {container: undefined}
}

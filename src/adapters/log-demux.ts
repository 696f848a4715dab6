import type {Readable} from 'node:stream'

import {StringDecoder} from 'node:string_decoder'

import type {LogLine} from '../engine/types.js'

/**
 * Splits the engine's multiplexed stdout/stderr stream (8-byte frame headers)
 * into lines, chunk by chunk and synchronously (no promise per line: 50 MB of
 * logs are ~600 000 lines). A container with a TTY sends a raw stream; then
 * everything is stdout.
 */
export class LineDemuxer {
  // A chunk or frame may end inside a multi-byte character.
  private readonly decoders = {stderr: new StringDecoder('utf8'), stdout: new StringDecoder('utf8')}
  /** Whether a stream's last frame ended inside a line. */
  private readonly open: Record<'stderr' | 'stdout', boolean> = {stderr: false, stdout: false}
  private readonly partial: Record<'stderr' | 'stdout', string> = {stderr: '', stdout: ''}
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly options: {raw?: boolean; timestamps?: boolean} = {}) {}

  /** The lines the stream has finished by its end (a last line without a newline included). */
  end(): LogLine[] {
    const out: LogLine[] = []
    for (const kind of ['stdout', 'stderr'] as const) {
      this.partial[kind] += this.decoders[kind].end()
      if (this.partial[kind] !== '') out.push(this.toLine(kind, this.partial[kind]))
      this.partial[kind] = ''
    }

    return out
  }

  /** The lines this chunk completes, in the order the engine sent them. */
  push(chunk: Buffer | string): LogLine[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    const out: LogLine[] = []
    if (this.options.raw) {
      this.lines('stdout', this.decoders.stdout.write(buf), out)
      return out
    }

    const pending = this.pending.length === 0 ? buf : Buffer.concat([this.pending, buf])
    // Docker sends one frame per line: the payloads of consecutive frames of one stream are
    // copied together and decoded and split once per run, not once per frame.
    const run = Buffer.allocUnsafe(pending.length)
    let runKind: 'stderr' | 'stdout' | undefined
    let runEnd = 0
    let offset = 0
    while (pending.length - offset >= 8) {
      const size = pending.readUInt32BE(offset + 4)
      if (pending.length - offset < 8 + size) break
      const kind = pending[offset] === 2 ? 'stderr' : 'stdout'
      let payload = pending.subarray(offset + 8, offset + 8 + size)
      offset += 8 + size
      if (payload.length === 0) continue
      if (kind !== runKind) {
        if (runKind !== undefined) this.lines(runKind, this.decoders[runKind].write(run.subarray(0, runEnd)), out)
        runKind = kind
        runEnd = 0
      }

      // A line the engine stored in parts (Podman: a write without its newline; Docker: over
      // 16 kB) comes as several frames, each with its own timestamp: the line keeps the first.
      if (this.options.timestamps && this.open[kind]) payload = withoutTimestamp(payload)
      this.open[kind] = payload.at(-1) !== 0x0a
      runEnd += payload.copy(run, runEnd)
    }

    if (runKind !== undefined) this.lines(runKind, this.decoders[runKind].write(run.subarray(0, runEnd)), out)
    // A copy: a view would keep the whole chunk alive until the next one.
    this.pending = offset === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(offset))
    return out
  }

  private lines(kind: 'stderr' | 'stdout', text: string, out: LogLine[]): void {
    const parts = (this.partial[kind] + text).split('\n')
    this.partial[kind] = parts.pop() ?? ''
    for (const part of parts) out.push(this.toLine(kind, part))
  }

  private toLine(kind: 'stderr' | 'stdout', raw: string): LogLine {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (this.options.timestamps) {
      const space = line.indexOf(' ')
      if (space > 0 && /^\d{4}-\d\d-\d\dT/.test(line))
        return {stream: kind, text: line.slice(space + 1), timestamp: line.slice(0, space)}
    }

    return {stream: kind, text: line, timestamp: undefined}
  }
}

const FRAME_TIMESTAMP = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d) /

/** A frame's payload without the timestamp the engine put in front of it (timestamps=1). */
function withoutTimestamp(payload: Buffer): Buffer {
  const match = FRAME_TIMESTAMP.exec(payload.subarray(0, 48).toString('latin1'))
  return match ? payload.subarray(match[0].length) : payload
}

/**
 * LineDemuxer over a whole stream.
 * @yields one LogLine per line, in the order the engine sent them.
 */
export async function* demuxLines(
  stream: Readable,
  options: {raw?: boolean; timestamps?: boolean},
): AsyncGenerator<LogLine> {
  const demux = new LineDemuxer(options)
  for await (const chunk of stream) yield* demux.push(chunk as Buffer | string)
  yield* demux.end()
}

import {formatBytes, formatDuration} from '../lib/format.js'
import {liveTerminal} from '../lib/terminal.js'

/** Aggregated progress of one pull, across layers. */
export interface PullStats {
  readonly ref: string
  readonly currentBytes: number
  /** Known total: the registry's size, else the sum of layer sizes seen so far. */
  readonly totalBytes: number | undefined
  readonly layersDone: number
  readonly layersTotal: number
  readonly bytesPerSecond: number
  readonly etaSeconds: number | undefined
  /**
   * Set once everything is downloaded and the engine unpacks the layers: how many it has
   * unpacked, when the engine says (Docker does, layer by layer; Podman 4 does not).
   */
  readonly extracting?: {readonly done?: number; readonly total: number}
}

/** Where pull progress goes: a live bar, periodic plain lines, or nowhere (--json). */
export interface PullReporter {
  begin(ref: string, sizeBytes: number | undefined): void
  update(stats: PullStats): void
  message(text: string): void
  end(outcome: 'failed' | 'ok'): void
}

export function progressLine(stats: PullStats, width = 24): string {
  const total = stats.totalBytes
  const fraction = total && total > 0 ? Math.min(1, stats.currentBytes / total) : undefined
  const bar =
    fraction === undefined
      ? ''
      : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '-')}] ${String(Math.floor(fraction * 100)).padStart(3)}% `
  const amount = total ? `${formatBytes(stats.currentBytes)}/${formatBytes(total)}` : formatBytes(stats.currentBytes)
  const rate = stats.bytesPerSecond > 0 ? `  ${formatBytes(stats.bytesPerSecond)}/s` : ''
  if (stats.extracting) {
    // The download is over: the bar would sit at 100 % (or 99 %) while the engine unpacks.
    const {done, total: layers} = stats.extracting
    return done === undefined
      ? `${bar}${amount}  downloaded, unpacking ${layers} layers`
      : `${bar}${amount}  downloaded, unpacking: ${done}/${layers} layers done`
  }

  const eta = stats.etaSeconds === undefined ? '' : `  ETA ${formatDuration(stats.etaSeconds)}`
  return `${bar}${amount}${rate}${eta}`
}

/** A live bar redrawn in place on a TTY (stderr). `render` lets a task list host the line instead. */
export function ttyReporter(
  stream: NodeJS.WriteStream = process.stderr,
  render?: (line: string) => void,
): PullReporter {
  let last = 0
  let extracting = false
  const draw = (line: string) => {
    if (render) render(line)
    else stream.write(`\r\u001B[2K${line}`)
  }

  return {
    begin(ref) {
      draw(`Pulling ${ref}...`)
    },
    end() {
      if (!render) stream.write('\r\u001B[2K')
    },
    message(text) {
      if (render) render(text)
      else stream.write(`\r\u001B[2K${text}\n`)
    },
    update(stats) {
      const now = Date.now()
      // The switch to extracting is drawn at once: no event may follow it until the pull ends.
      if (now - last < 100 && Boolean(stats.extracting) === extracting) return
      last = now
      extracting = Boolean(stats.extracting)
      draw(progressLine(stats))
    },
  }
}

/** Plain lines for pipes and CI: one every `everyMs`, plus start and end. */
export function lineReporter(
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  everyMs = 5000,
): PullReporter {
  let last = 0
  let latest: PullStats | undefined
  let extracting = false
  return {
    begin(ref, size) {
      last = Date.now()
      write(`pull: ${ref}${size ? ` (${formatBytes(size)} to download)` : ''}`)
    },
    end(outcome) {
      if (outcome === 'ok' && latest) write(`pull: done, ${formatBytes(latest.currentBytes)}`)
    },
    message(text) {
      write(`pull: ${text}`)
    },
    update(stats) {
      latest = stats
      const now = Date.now()
      if (now - last < everyMs && (extracting || !stats.extracting)) return
      extracting = Boolean(stats.extracting)
      last = now
      write(`pull: ${progressLine(stats, 0).replace(/^\[\] /, '')}`)
    },
  }
}

export const silentReporter: PullReporter = {begin() {}, end() {}, message() {}, update() {}}

/** Picks the reporter for where output goes. */
export function reporterFor(options: {
  json: boolean
  /** Where a live bar's line goes instead of stderr (a task list's output line). */
  render?: (line: string) => void
  tty?: boolean
  /** Where plain lines go instead of stderr. */
  write?: (line: string) => void
}): PullReporter {
  if (options.json) return silentReporter
  const tty = options.tty ?? liveTerminal(process.stderr)
  return tty ? ttyReporter(process.stderr, options.render) : lineReporter(options.write)
}

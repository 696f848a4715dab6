import type {TaskUi} from './tasks.js'

import {formatBytes, formatDuration} from '../lib/format.js'

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

/**
 * Pull progress as a task list shows it: the progress line is the running
 * step's output (listr2's output bar on a terminal, a plain line at most every
 * 5 s elsewhere), messages are notices. The caller starts and ends the step.
 */
export function taskReporter(ui: TaskUi): PullReporter {
  let last = 0
  let extracting = false
  return {
    begin(ref, size) {
      ui.output(`Pulling ${ref}${size ? ` (${formatBytes(size)} to download)` : ''}...`, true)
    },
    end() {},
    message(text) {
      ui.info(text)
    },
    update(stats) {
      const now = Date.now()
      // The switch to extracting is drawn at once: no event may follow it until the pull ends.
      if (now - last < 100 && Boolean(stats.extracting) === extracting) return
      last = now
      // Everything downloaded, the unpacking begins: a log says so even between its 5 s lines.
      const unpackBegins = !extracting && Boolean(stats.extracting)
      extracting = Boolean(stats.extracting)
      ui.output(progressLine(stats), unpackBegins)
    },
  }
}

export const silentReporter: PullReporter = {begin() {}, end() {}, message() {}, update() {}}

import type {BuildEvent} from './image-build.js'

import {redact} from '../lib/redact.js'
import {liveTerminal, painter, useColor} from '../lib/terminal.js'
import {cleanLine} from './image-build.js'

/**
 * How a build looks while it runs. On a TTY: finished steps as one line each
 * (with their time), the step in progress under a spinner with its last few
 * output lines, redrawn in place. Elsewhere (pipes, CI): every step and output
 * line as plain text, so a CI log has the whole build. Under --json: nothing.
 * Always stderr.
 */
export interface BuildView {
  event(event: BuildEvent): void
  /** The build ended: close the step in progress as done or failed. */
  finish(ok: boolean): void
  /** Stop drawing (before an error is printed); idempotent. */
  stop(): void
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

export function ttyBuildView(stream: NodeJS.WriteStream = process.stderr, tailLines = 5): BuildView {
  const paint = painter(useColor(stream))
  const width = () => Math.max(20, (stream.columns ?? 100) - 1)
  const clip = (text: string) => (text.length > width() ? text.slice(0, width() - 1) + '…' : text)
  let step: string | undefined
  let stepStarted = 0
  const tail: string[] = []
  let drawn = 0
  let frame = 0
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  const clear = () => {
    if (drawn === 0) return
    stream.write('\r\u001B[2K' + '\u001B[1A\u001B[2K'.repeat(drawn - 1))
    drawn = 0
  }

  const seconds = () => `${((Date.now() - stepStarted) / 1000).toFixed(1)}s`
  /** A mark, a step title clipped to fit, and its time: one screen row, always (a wrapped row would break the redraw). */
  const row = (mark: string, title: string) => {
    const time = seconds()
    const room = width() - 3 - time.length
    const text = title.length > room ? title.slice(0, Math.max(0, room - 1)) + '…' : title
    return `${mark} ${text} ${paint('2', time)}`
  }

  const draw = () => {
    if (stopped || !step) return
    clear()
    const lines = [
      row(paint('36', FRAMES[frame % FRAMES.length]!), step),
      ...tail.map((l) => paint('2', clip(`  │ ${l}`))),
    ]
    stream.write(lines.join('\n'))
    drawn = lines.length
  }

  const close = (mark: string) => {
    clear()
    if (step) stream.write(`${row(mark, step)}\n`)
    step = undefined
    tail.length = 0
  }

  const stopTimer = () => {
    if (timer) clearInterval(timer)
    timer = undefined
  }

  return {
    event(event) {
      if (stopped) return
      switch (event.kind) {
        case 'line': {
          const line = cleanLine(event.line)
          if (line.trim() === '') return
          tail.push(line)
          if (tail.length > tailLines) tail.shift()
          break
        }

        case 'note': {
          clear()
          stream.write(`${paint('2', redact(event.text))}\n`)
          break
        }

        case 'step': {
          close(paint('32', '✔'))
          step = cleanLine(event.step).replaceAll(/\s{2,}/g, ' ')
          stepStarted = Date.now()
          timer ??= setInterval(() => {
            frame++
            draw()
          }, 100)
          timer.unref()
          break
        }
      }

      draw()
    },
    finish(ok) {
      stopTimer()
      if (!stopped) close(ok ? paint('32', '✔') : paint('31', '✖'))
      stopped = true
    },
    stop() {
      stopTimer()
      if (!stopped) clear()
      stopped = true
    },
  }
}

export function plainBuildView(write: (line: string) => void = (l) => process.stderr.write(l + '\n')): BuildView {
  return {
    event(event) {
      if (event.kind === 'step') write(cleanLine(event.step))
      else if (event.kind === 'note') write(redact(event.text))
      else {
        const line = cleanLine(event.line)
        if (line.trim() !== '') write(`  ${line}`)
      }
    },
    finish() {},
    stop() {},
  }
}

export const silentBuildView: BuildView = {event() {}, finish() {}, stop() {}}

export function buildViewFor(options: {json: boolean; tty?: boolean}): BuildView {
  if (options.json) return silentBuildView
  return (options.tty ?? liveTerminal(process.stderr)) ? ttyBuildView() : plainBuildView()
}

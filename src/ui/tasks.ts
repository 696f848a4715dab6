import {redact} from '../lib/redact.js'
import {forTerminal, liveTerminal, painter, stripEscapes, useColor} from '../lib/terminal.js'

/**
 * A sequential task list: a live one on a TTY (spinner, the running task's
 * latest output line, a check mark and timing when done), plain lines for pipes
 * and CI, nothing under --json. Everything goes to stderr; results go to stdout.
 */
export interface TaskUi {
  start(title: string): void
  /** The running task's latest progress (a pull bar, a probe result). */
  output(text: string): void
  succeed(note?: string): void
  fail(note?: string): void
  skip(title: string, note: string): void
  warn(text: string): void
  info(text: string): void
  /** Stops any animation (before an error is printed). */
  stop(): void
}

/** Notes and output lines can carry an engine's or a registry's text: redacted, and escape-free on a terminal. */
const shown = (text: string) => stripEscapes(redact(text))
const shownPlain = (text: string) => forTerminal(redact(text), process.stderr)

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

export function ttyTaskUi(stream: NodeJS.WriteStream = process.stderr): TaskUi {
  let title: string | undefined
  let output = ''
  let started = 0
  let frame = 0
  let timer: NodeJS.Timeout | undefined
  let drawnLines = 0
  const paint = painter(useColor(stream))
  const width = () => Math.max(20, (stream.columns ?? 100) - 2)
  const clip = (text: string) => (text.length > width() ? text.slice(0, width() - 1) + '…' : text)
  const clear = () => {
    for (let i = 0; i < drawnLines; i++) stream.write(i === 0 ? '\r\u001B[2K' : '\u001B[1A\r\u001B[2K')
    drawnLines = 0
  }

  const draw = () => {
    if (!title) return
    clear()
    stream.write(clip(`${paint('36', FRAMES[frame % FRAMES.length]!)} ${title}`))
    drawnLines = 1
    if (output) {
      stream.write('\n' + clip(`  ${paint('2', shown(output))}`))
      drawnLines = 2
    }
  }

  const finish = (mark: string, note?: string) => {
    if (timer) clearInterval(timer)
    timer = undefined
    clear()
    if (title) {
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      stream.write(`${mark} ${title}${note ? ` ${paint('2', `(${shown(note)})`)}` : ''} ${paint('2', `${seconds}s`)}\n`)
    }

    title = undefined
    output = ''
  }

  return {
    fail: (note) => finish(paint('31', '✖'), note),
    info(text) {
      clear()
      stream.write(`${shown(text)}\n`)
      draw()
    },
    output(text) {
      output = text
      draw()
    },
    skip(skipped, note) {
      clear()
      stream.write(`${paint('2', '↓')} ${skipped} ${paint('2', `(${note})`)}\n`)
      draw()
    },
    start(next) {
      if (title) finish(paint('32', '✔'))
      title = next
      output = ''
      started = Date.now()
      frame = 0
      draw()
      timer = setInterval(() => {
        frame++
        draw()
      }, 80)
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      clear()
      title = undefined
    },
    succeed: (note) => finish(paint('32', '✔'), note),
    warn(text) {
      clear()
      stream.write(`${paint('33', '!')} ${shown(text)}\n`)
      draw()
    },
  }
}

export function plainTaskUi(write: (line: string) => void = (l) => process.stderr.write(l + '\n')): TaskUi {
  let title: string | undefined
  let started = 0
  let lastOutput = 0
  const done = (word: string, note?: string) => {
    if (!title) return
    write(`${word}: ${title}${note ? ` (${shownPlain(note)})` : ''} [${((Date.now() - started) / 1000).toFixed(1)}s]`)
    title = undefined
  }

  return {
    fail: (note) => done('failed', note),
    info: (text) => write(shownPlain(text)),
    output(text) {
      // Progress is throttled: one line every 5 s at most.
      if (Date.now() - lastOutput < 5000) return
      lastOutput = Date.now()
      write(`  ${shownPlain(text)}`)
    },
    skip: (skipped, note) => write(`skipped: ${skipped} (${note})`),
    start(next) {
      if (title) done('done')
      title = next
      started = Date.now()
      lastOutput = Date.now()
      write(`${next}...`)
    },
    stop() {},
    succeed: (note) => done('done', note),
    warn: (text) => write(`warning: ${shownPlain(text)}`),
  }
}

export const silentTaskUi: TaskUi = {
  fail() {},
  info() {},
  output() {},
  skip() {},
  start() {},
  stop() {},
  succeed() {},
  warn() {},
}

export function taskUiFor(options: {json: boolean; tty?: boolean}): TaskUi {
  if (options.json) return silentTaskUi
  return (options.tty ?? liveTerminal(process.stderr)) ? ttyTaskUi() : plainTaskUi()
}

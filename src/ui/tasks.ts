import type {DefaultRenderer} from 'listr2'

import {createRequire} from 'node:module'

import {redact} from '../lib/redact.js'
import {forTerminal, liveTerminal, painter, stripEscapes, useColor} from '../lib/terminal.js'

/**
 * A sequential task list: a live one on a TTY (spinner, the running task's
 * latest output line, a check mark and timing when done), plain lines for pipes
 * and CI, nothing under --json. Everything goes to stderr; results go to stdout.
 * Services talk to this seam only; listr2 draws it (src/ui/tasks.ts is the one
 * place that knows listr2).
 */
export interface TaskUi {
  start(title: string): void
  /**
   * The running task's latest progress (a pull bar, a probe result). In a log (no live
   * terminal) progress is throttled to a line every 5 s; a `milestone` (a pull's size, the
   * switch from download to unpack) is always written.
   */
  output(text: string, milestone?: boolean): void
  succeed(note?: string): void
  fail(note?: string): void
  skip(title: string, note: string): void
  warn(text: string): void
  info(text: string): void
  /**
   * Ends the list: a task still running is shown as failed. Resolves once
   * everything is drawn and the terminal is released, so what is printed next
   * (the result, an error) comes after the list and is never buffered or erased.
   */
  stop(): Promise<void>
}

/** Notes and output lines can carry an engine's or a registry's text: redacted, and escape-free on a terminal. */
const shown = (text: string) => stripEscapes(redact(text))
const shownPlain = (text: string) => forTerminal(redact(text), process.stderr)

type Listr2 = typeof import('listr2')

let loaded: Listr2 | undefined

/**
 * listr2 paints through colorette, which decides once, when it is loaded, from
 * NO_COLOR, FORCE_COLOR and whether *stdout* is a terminal. stigmer has one
 * colour rule (`useColor` in src/lib/terminal.ts) and draws on stderr: colorette
 * is loaded with that rule's answer in the environment. The load is a
 * synchronous require, so nothing else runs while the environment says so.
 */
function loadListr(color: boolean): Listr2 {
  if (loaded) return loaded
  const {env} = process
  const saved = {FORCE_COLOR: env.FORCE_COLOR, NO_COLOR: env.NO_COLOR}
  if (color) {
    env.FORCE_COLOR = '1'
    delete env.NO_COLOR
  } else {
    env.NO_COLOR = '1'
    delete env.FORCE_COLOR
  }

  try {
    loaded = createRequire(import.meta.url)('listr2') as Listr2
    return loaded
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete env[name]
      else env[name] = value
    }
  }
}

interface Deferred {
  promise: Promise<void>
  reject(error: Error): void
  resolve(): void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A step that fails is drawn as failed; the failure itself is the service's to throw.
  promise.catch(() => {})
  return {promise, reject, resolve}
}

/** What a live renderer needs beyond listr2's public surface (see `liveRendererClass`). */
interface LiveRenderer {
  /** A permanent line above the live list (a notice while a task runs). */
  above(line: string): void
}

/** The private fields of listr2's DefaultRenderer `liveRendererClass` uses (listr2 9.x). */
interface DefaultRendererInternals {
  updater?: ((...text: string[]) => void) & {clear(): void}
}

/**
 * listr2's DefaultRenderer, drawing on stderr and allowed to when stderr is a
 * terminal (listr2 itself asks whether stdout is: `nonTTY = true` leaves the
 * choice to `fallbackRendererCondition`), plus `above`: a notice printed while a
 * task runs (the one-time-setup message during a pull) goes above the live
 * list at once, not into listr2's buffer of stray writes, which would print it
 * after the task.
 */
function liveRendererClass(
  listr: Listr2,
  logger: InstanceType<Listr2['ListrLogger']>,
  onCreate: (renderer: LiveRenderer) => void,
): typeof DefaultRenderer {
  return class StderrRenderer extends listr.DefaultRenderer implements LiveRenderer {
    static override nonTTY = true

    constructor(...args: ConstructorParameters<typeof DefaultRenderer>) {
      super(...args)
      onCreate(this)
    }

    above(line: string): void {
      // listr2 has no public way to print above a live list; its log-update instance is private.
      const {updater} = this as unknown as DefaultRendererInternals
      if (!updater) {
        logger.process.toStdout(line)
        return
      }

      updater.clear()
      logger.process.toStdout(line)
      this.update()
    }
  }
}

export interface ListOptions {
  readonly color?: boolean | undefined
  /** Plain lines: print every output line (a build log), not one every 5 s (progress). */
  readonly everyOutputLine?: boolean | undefined
  readonly live?: boolean | undefined
  /** Live: how many of the running task's latest output lines show (listr2's `outputBar`). Default 1. */
  readonly outputLines?: number | undefined
  readonly stream?: NodeJS.WriteStream
}

interface Step {
  /** How long it took, fixed when it ends (listr2 would count from when its Listr got to run the task). */
  elapsedMs?: number
  readonly gate: Deferred
  /** Notices and output that came before listr2 got to run the task (it waits for the previous step's end): given to it in order when it does. */
  readonly queued: Array<{readonly note: string} | {readonly output: string}>
  readonly started: number
  /** Set while listr2 runs the step. */
  running?: {readonly note: (line: string) => void} | undefined
  title: string
  wrapper?: {output: string; title: string}
}

/**
 * The task list, drawn by listr2: each step is a one-task Listr, run one after
 * the other (a step's Listr ends before the next one draws). Live (listr2's
 * DefaultRenderer on stderr) when stderr is a terminal that may redraw,
 * listr2's SimpleRenderer (plain lines) otherwise (`fallbackRenderer`). listr2
 * never handles Ctrl-C (`registerSignalListeners: false`): the command's
 * AbortSignal does, and its cleanup runs in the service's own `catch`; a task
 * failure ends the Listr (`exitOnError`) and the service throws the real error.
 * While a step draws, stray writes to stdout and stderr are held by listr2's
 * ProcessOutput and printed after it.
 */
export function listrTaskUi(options: ListOptions = {}): TaskUi {
  const stream = options.stream ?? process.stderr
  const live = options.live ?? liveTerminal(stream)
  const color = options.color ?? useColor(stream)
  const paint = painter(color)
  const dim = (text: string) => paint('2', text)
  let chain: Promise<void> = Promise.resolve()
  let current: Step | undefined
  let lastOutput = 0
  let drawing = false
  process.once('exit', () => {
    // A second Ctrl-C exits at once: the cursor listr2 hid comes back.
    if (drawing) stream.write('\u001B[?25h')
  })

  /** A notice line: above the running step, or in order after the steps before it. */
  const line = (text: string) => {
    if (current?.running) current.running.note(text)
    else if (current) current.queued.push({note: text})
    else
      chain = chain.then(() => {
        stream.write(text + '\n')
      })
  }

  const run = (step: Step, skipped = false) => {
    chain = chain.then(async () => {
      const listr = loadListr(color)
      const processOutput = new listr.ProcessOutput(stream, process.stdout, {leaveEmptyLine: false})
      const logger = new listr.ListrLogger({processOutput, useIcons: true})
      let renderer: LiveRenderer | undefined
      // PRESET_TIMER's look, with the step's own duration: from start() to succeed()/fail().
      const timer = {
        ...listr.PRESET_TIMER,
        field: () => listr.parseTimer(step.elapsedMs ?? Date.now() - step.started),
      }
      const tasks = new listr.Listr(
        {
          async task(_ctx, wrapper) {
            if (skipped) {
              wrapper.skip(step.title)
              return
            }

            const note = (text: string) => (renderer ? renderer.above(text) : logger.process.toStdout(text))
            step.running = {note}
            step.wrapper = wrapper
            wrapper.title = step.title
            for (const item of step.queued.splice(0)) {
              if ('note' in item) note(item.note)
              else wrapper.output = item.output
            }

            await step.gate.promise
          },
          rendererOptions: {outputBar: options.outputLines ?? 1},
          title: step.title,
        },
        {
          exitOnError: true,
          fallbackRenderer: 'simple',
          fallbackRendererCondition: !live,
          fallbackRendererOptions: {logger, timer},
          registerSignalListeners: false,
          renderer: liveRendererClass(listr, logger, (r) => {
            renderer = r
          }),
          rendererOptions: {
            formatOutput: 'truncate',
            logger,
            showErrorMessage: false,
            showSkipMessage: false,
            timer,
          },
        },
      )
      drawing = live
      try {
        await tasks.run()
      } catch {
        // drawn as failed; the service throws the real error
      } finally {
        drawing = false
        step.running = undefined
      }
    })
  }

  const settle = (outcome: 'failed' | 'ok', note?: string) => {
    const step = current
    if (!step) return
    current = undefined
    step.elapsedMs = Date.now() - step.started
    const noted = note ? `${step.title} ${dim(`(${live ? shown(note) : shownPlain(note)})`)}` : step.title
    if (live || outcome === 'ok') {
      step.title = noted
      if (step.wrapper) step.wrapper.title = noted
    }

    if (outcome === 'ok') step.gate.resolve()
    // The plain renderer prints the error's message after the title.
    else step.gate.reject(new Error(live ? noted : note ? shownPlain(note) : 'did not finish'))
  }

  return {
    fail: (note) => settle('failed', note),
    info: (text) => line(live ? shown(text) : shownPlain(text)),
    output(text, milestone = false) {
      if (!current) return
      if (!live && !options.everyOutputLine) {
        // Progress in a log is throttled: one line every 5 s at most, milestones always.
        if (!milestone && Date.now() - lastOutput < 5000) return
        lastOutput = Date.now()
      }

      const value = live ? shown(text) : shownPlain(text)
      if (current.wrapper) current.wrapper.output = value
      else current.queued.push({output: value})
    },
    skip(title, note) {
      if (current) settle('ok')
      run({gate: deferred(), queued: [], started: Date.now(), title: `${title} ${dim(`(${note})`)}`}, true)
    },
    start(title) {
      if (current) settle('ok')
      current = {gate: deferred(), queued: [], started: Date.now(), title}
      lastOutput = Date.now()
      run(current)
    },
    async stop() {
      if (current) settle('failed')
      await chain
    },
    succeed: (note) => settle('ok', note),
    warn: (text) => line(live ? `${paint('33', '!')} ${shown(text)}` : `warning: ${shownPlain(text)}`),
  }
}

export const silentTaskUi: TaskUi = {
  fail() {},
  info() {},
  output() {},
  skip() {},
  start() {},
  async stop() {},
  succeed() {},
  warn() {},
}

/** The task list for a command: silent under --json (listr2's `silentRendererCondition` is this choice), listr2 otherwise. */
export function taskUiFor(
  options: Omit<ListOptions, 'live' | 'stream'> & {readonly json: boolean; readonly tty?: boolean | undefined},
): TaskUi {
  if (options.json) return silentTaskUi
  return listrTaskUi({...options, live: options.tty})
}

import type {BuildEvent} from '../image/build.js'

import {cleanLine} from '../image/build.js'
import {redact} from '../lib/redact.js'
import {silentTaskUi, type TaskUi, taskUiFor} from './tasks.js'

/**
 * How a build looks while it runs: a task list (src/ui/tasks.ts, listr2) with
 * one task per Dockerfile step. On a terminal: finished steps as one line each
 * (with their time), the step in progress under a spinner with its last few
 * output lines. Elsewhere (pipes, CI): every step and every output line as
 * plain text, so a CI log has the whole build. Under --json: nothing. Always
 * stderr.
 */
export interface BuildView {
  event(event: BuildEvent): void
  /** The build ended: close the step in progress as done or failed. */
  finish(ok: boolean): Promise<void>
  /** Stop drawing (before an error is printed); idempotent. */
  stop(): Promise<void>
}

/** How many output lines of the running step a terminal shows. */
export const TAIL_LINES = 5

export function taskBuildView(ui: TaskUi): BuildView {
  let running = false
  let stopped = false
  return {
    event(event) {
      if (stopped) return
      switch (event.kind) {
        case 'line': {
          const line = cleanLine(event.line)
          if (running && line.trim() !== '') ui.output(line)
          break
        }

        case 'note': {
          ui.info(redact(event.text))
          break
        }

        case 'step': {
          ui.start(cleanLine(event.step).replaceAll(/\s{2,}/g, ' '))
          running = true
          break
        }
      }
    },
    async finish(ok) {
      if (running && !stopped) {
        if (ok) ui.succeed()
        else ui.fail()
      }

      running = false
      stopped = true
      await ui.stop()
    },
    async stop() {
      stopped = true
      await ui.stop()
    },
  }
}

export const silentBuildView: BuildView = taskBuildView(silentTaskUi)

export function buildViewFor(options: {json: boolean; tty?: boolean}): BuildView {
  return taskBuildView(taskUiFor({...options, everyOutputLine: true, outputLines: TAIL_LINES}))
}

import {rmSync} from 'node:fs'

/**
 * The one exit-cleanup registry. Whatever stigmer leaves on disk for the
 * length of one operation (a temporary auth file with a registry password, a
 * staged build context) is registered here, and removed:
 * - by the operation itself when it ends (`release()`), normally or with an error;
 * - otherwise when the process exits, by any path: the end of the command,
 *   `process.exit` (a second Ctrl-C exits at once, skipping every `finally`),
 *   an uncaught error;
 * - on SIGINT, SIGTERM or SIGHUP that nothing else handles (the process would
 *   otherwise die without an 'exit' event).
 * Removal is synchronous: an 'exit' listener cannot wait.
 */
const pending = new Map<number, () => void>()
let next = 0
let installed = false

function runAll(): void {
  for (const [id, task] of pending) {
    pending.delete(id)
    try {
      task()
    } catch {
      // Best effort: one failure must not keep the others.
    }
  }
}

const SIGNAL_EXIT = {SIGHUP: 129, SIGINT: 130, SIGTERM: 143} as const

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', runAll)
  for (const [signal, code] of Object.entries(SIGNAL_EXIT)) {
    process.on(signal, () => {
      // Another handler (a command's Ctrl-C handling) owns this signal and ends through process.exit or a normal exit.
      if (process.listenerCount(signal) > 1) return
      runAll()
      process.exit(code)
    })
  }
}

export interface Registered {
  /** Runs the task now (once) and forgets it. */
  release(): void
  /** Forgets the task without running it (what it would undo is to stay). */
  keep(): void
}

/** Registers a synchronous cleanup task that runs at exit unless released first. */
export function onExit(task: () => void): Registered {
  install()
  const id = next++
  pending.set(id, task)
  return {
    keep() {
      pending.delete(id)
    },
    release() {
      if (!pending.delete(id)) return
      task()
    },
  }
}

/** Removes `path` (a file or a folder) when released, or at the latest when the process exits. */
export function removeOnExit(path: string): Registered {
  return onExit(() => rmSync(path, {force: true, maxRetries: 3, recursive: true}))
}

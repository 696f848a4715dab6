import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'

import {InterruptedError, StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'

export interface HeldLock {
  release(): Promise<void>
}

/**
 * A cross-process lock in the data dir (proper-lockfile: an atomic mkdir,
 * refreshed while held, taken over when stale). Two `server start`s at once:
 * the second waits, then converges on what the first made.
 */
export async function acquireLock(
  path: string,
  options: {onWait?: () => void; signal?: AbortSignal | undefined; staleMs?: number; waitMs?: number} = {},
): Promise<HeldLock> {
  const lockfile = await import('proper-lockfile')
  mkdirSync(dirname(path), {recursive: true})
  const lockPath = `${path}.lock`
  const staleMs = options.staleMs ?? 15_000
  const deadline = Date.now() + (options.waitMs ?? 300_000)
  let warned = false
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError('Interrupted while waiting for another stigmer command')
    try {
      const release = await lockfile.lock(dirname(path), {
        lockfilePath: lockPath,
        onCompromised() {
          // Taken over after we were stalled for longer than staleMs: carry on, the other run converges.
        },
        realpath: false,
        stale: staleMs,
        update: Math.floor(staleMs / 3),
      })
      let released = false
      return {
        async release() {
          if (released) return
          released = true
          await release().catch(() => undefined)
        },
      }
    } catch (error) {
      if ((error as {code?: string}).code !== 'ELOCKED') throw error
      if (!warned) {
        warned = true
        options.onWait?.()
      }

      if (Date.now() > deadline) {
        throw new StigmerError('Another stigmer command is still changing the agent-runner container.', {
          code: 'LOCKED',
          exit: ExitCode.LOCKED,
          suggestions: [`Wait for it to finish and try again. If no other stigmer runs, remove ${lockPath}.`],
        })
      }

      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

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
/** The lock's folder cannot be made or written: a file in the way, or permissions. */
function unusableLockPath(lockPath: string, error: unknown): StigmerError {
  const code = (error as {code?: string}).code
  const problem =
    code === 'ENOTDIR' || code === 'EEXIST'
      ? 'a file is in the way where stigmer keeps a folder'
      : `it cannot be written (${code ?? (error as Error).message})`
  return new StigmerError(`stigmer cannot take its lock ${lockPath}: ${problem}.`, {
    code: 'LOCKED',
    exit: ExitCode.LOCKED,
    suggestions: [
      `Look at the folders on the way: ls -ld ${dirname(dirname(lockPath))} ${dirname(lockPath)} ${lockPath}`,
      'Remove or rename the file that is in the way (or set STIGMER_HOME to another folder).',
    ],
  })
}

export async function acquireLock(
  path: string,
  options: {onWait?: () => void; signal?: AbortSignal | undefined; staleMs?: number; waitMs?: number} = {},
): Promise<HeldLock> {
  const lockfile = await import('proper-lockfile')
  const lockPath = `${path}.lock`
  try {
    mkdirSync(dirname(path), {recursive: true})
  } catch (error) {
    throw unusableLockPath(lockPath, error)
  }

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
      const code = (error as {code?: string}).code
      if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
        throw unusableLockPath(lockPath, error)
      if (code !== 'ELOCKED') throw error
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

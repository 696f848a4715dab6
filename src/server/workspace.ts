import {
  accessSync,
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
} from 'node:fs'
import {dirname, resolve} from 'node:path'

import {StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'

/**
 * The workspace folder mounted at /workspace: created as the invoking user, and when root
 * starts the container, handed to the image's user without ever following a link.
 */

/** lstat, or undefined when nothing is there. */
function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    if ((error as {code?: string}).code === 'ENOENT') return undefined
    throw error
  }
}

/** Refuses a workspace stigmer would re-own when a link or another user's folder could redirect it. */
function unsafeWorkspace(path: string, problem: string): StigmerError {
  return new StigmerError(`The workspace folder ${path} is not safe to use: ${problem}.`, {
    code: 'WORKSPACE',
    exit: ExitCode.WORKSPACE,
    suggestions: [
      `Look at it: ls -ld ${path}; if you did not make it, remove it and run the command again.`,
      'Or choose another folder with --workspace DIR (or workspace: in ~/.stigmer/config.yaml).',
    ],
  })
}

/** `path` and every folder above it, root first. */
function ancestry(path: string): string[] {
  const chain = [path]
  for (let current = path; dirname(current) !== current; current = dirname(current)) chain.unshift(dirname(current))
  return chain
}

/**
 * Every folder above `path`, root first, as written and after resolving links,
 * must belong to root or to `uid`: otherwise another user could swap the next
 * one for a link and redirect the ownership change to a folder of their
 * choosing. (A link owned by root in root's folders, such as a symlinked /home,
 * is fine. The workspace itself may already belong to the image's user from an
 * earlier start; it is opened with O_NOFOLLOW.)
 */
function checkComponents(path: string, uid: number): void {
  const parent = dirname(resolve(path))
  const chains = [...ancestry(parent), ...ancestry(realpathSync(parent))]
  for (const component of new Set(chains)) {
    const stat = lstatSync(component)
    if (stat.uid !== 0 && stat.uid !== uid)
      throw unsafeWorkspace(path, `${component} belongs to another user (uid ${stat.uid})`)
  }
}

/**
 * Creates the workspace as the invoking user. `handTo`: when root starts the
 * container, it keeps the image's own (non-root) user, which could not write a
 * root-owned 0755 folder: a folder created now, or stigmer's default workspace,
 * is given to that user.
 *
 * stigmer's default workspace is never a link, and nothing is re-owned through
 * one: the folder and every folder above it must be real folders of root or of
 * the invoking user, and the change of owner goes through a descriptor opened
 * with O_NOFOLLOW (so a link planted in between is refused, not followed).
 * Exported for tests.
 */
export function ensureWorkspace(
  path: string,
  handTo?: {gid: number; uid: number},
  managed = false,
  uid: number = process.getuid?.() ?? 0,
): void {
  try {
    const existing = lstatOrUndefined(path)
    if (managed && existing?.isSymbolicLink())
      throw unsafeWorkspace(path, 'it is a symbolic link, which stigmer never follows for its own workspace')
    const created = existing === undefined
    mkdirSync(path, {mode: 0o755, recursive: true})
    // A folder this start created, or stigmer's own default one, goes to the image's user;
    // a folder the user named is never re-owned (the runner reports if it cannot write it).
    if (handTo && (created || managed)) {
      checkComponents(path, uid)
      // eslint-disable-next-line no-bitwise -- open(2) flags are a bit set
      const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
      try {
        if (fstatSync(fd).uid !== handTo.uid) fchownSync(fd, handTo.uid, handTo.gid)
      } finally {
        closeSync(fd)
      }
    }

    accessSync(path, constants.W_OK)
  } catch (error) {
    if (error instanceof StigmerError) throw error
    throw new StigmerError(`The workspace folder ${path} cannot be created or written: ${(error as Error).message}`, {
      code: 'WORKSPACE',
      exit: ExitCode.WORKSPACE,
      suggestions: [
        'Choose another folder with --workspace DIR (or workspace: in ~/.stigmer/config.yaml).',
        `Or fix its permissions: ls -ld ${path}`,
      ],
    })
  }
}

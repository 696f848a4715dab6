/**
 * The I/O behind `stigmer doctor`: each function looks at one thing on the
 * real machine and returns plain facts. The verdicts are made from these facts
 * by the pure functions in doctor-checks.ts, so unit tests feed those directly.
 *
 * Nothing here starts a service or changes anything, except the workspace probe,
 * which creates one temporary file of its own and removes it.
 */

/* eslint-disable no-bitwise -- access(2) flags are bit fields */
import {randomBytes} from 'node:crypto'
import {accessSync, constants, existsSync, readFileSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {statfs} from 'node:fs/promises'
import {connect} from 'node:net'
import {dirname, join} from 'node:path'

export interface TcpProbe {
  readonly ok: boolean
  /** "connection refused", "no answer within 1000 ms", ... */
  readonly detail: string
  readonly ms: number
}

/** A plain TCP connect with a deadline: does anything listen there? */
export async function tcpProbe(host: string, port: number, timeoutMs = 1000): Promise<TcpProbe> {
  const started = Date.now()
  return new Promise((resolve) => {
    const socket = connect({host, port})
    const finish = (ok: boolean, detail: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({detail, ms: Date.now() - started, ok})
    }

    const timer = setTimeout(() => finish(false, `no answer within ${timeoutMs} ms`), timeoutMs)
    socket.once('connect', () => finish(true, 'accepts connections'))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const words: Record<string, string> = {
        EAI_AGAIN: `cannot resolve ${host}`,
        ECONNREFUSED: 'connection refused (nothing listens there)',
        EHOSTUNREACH: 'host unreachable',
        ENETUNREACH: 'network unreachable',
        ENOTFOUND: `cannot resolve ${host}`,
      }
      finish(false, words[error.code ?? ''] ?? `${error.code ?? 'error'}: ${error.message}`)
    })
  })
}

export interface WorkspaceFacts {
  readonly path: string
  readonly exists: boolean
  readonly isDirectory?: boolean
  /** Owner of the folder (Linux/macOS). */
  readonly ownerUid?: number
  /** A temporary file was created in it and removed again. */
  readonly writable?: boolean
  readonly writeError?: string
  /** When it does not exist: the nearest folder above it that does, and whether this user may create folders there. */
  readonly nearestExisting?: string
  readonly nearestWritable?: boolean
}

/** Whether the workspace folder exists and takes a file; creates only a temporary file of its own, and removes it. */
export function probeWorkspace(path: string): WorkspaceFacts {
  let stat
  try {
    stat = statSync(path)
  } catch {
    stat = undefined
  }

  if (!stat) {
    let dir = dirname(path)
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
    let nearestWritable = true
    try {
      accessSync(dir, constants.W_OK | constants.X_OK)
    } catch {
      nearestWritable = false
    }

    return {exists: false, nearestExisting: dir, nearestWritable, path}
  }

  if (!stat.isDirectory()) return {exists: true, isDirectory: false, ownerUid: stat.uid, path}
  const probe = join(path, `.stigmer-doctor-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    writeFileSync(probe, 'stigmer doctor write test\n', {flag: 'wx'})
  } catch (error) {
    return {
      exists: true,
      isDirectory: true,
      ownerUid: stat.uid,
      path,
      writable: false,
      writeError: (error as Error).message,
    }
  }

  try {
    unlinkSync(probe)
  } catch (error) {
    return {
      exists: true,
      isDirectory: true,
      ownerUid: stat.uid,
      path,
      writable: true,
      writeError: `wrote ${probe} but could not remove it: ${(error as Error).message}`,
    }
  }

  return {exists: true, isDirectory: true, ownerUid: stat.uid, path, writable: true}
}

export interface SocketFacts {
  readonly path: string
  readonly isSocket: boolean
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly ownerName?: string
  readonly groupName?: string
  /** What the kernel says: access(R_OK | W_OK) for this process. */
  readonly accessible: boolean
}

/** Mode, owner and group of a unix socket, and whether this process may open it. undefined when nothing is there. */
export function socketFacts(path: string, names: NameTables = readNameTables()): SocketFacts | undefined {
  let stat
  try {
    stat = statSync(path)
  } catch {
    return undefined
  }

  let accessible = true
  try {
    accessSync(path, constants.R_OK | constants.W_OK)
  } catch {
    accessible = false
  }

  const ownerName = names.users.get(stat.uid)
  const groupName = names.groups.get(stat.gid)
  return {
    accessible,
    gid: stat.gid,
    isSocket: stat.isSocket(),
    mode: stat.mode,
    path,
    uid: stat.uid,
    ...(ownerName === undefined ? {} : {ownerName}),
    ...(groupName === undefined ? {} : {groupName}),
  }
}

export interface NameTables {
  readonly users: ReadonlyMap<number, string>
  readonly groups: ReadonlyMap<number, string>
}

/** uid -> name and gid -> name from /etc/passwd and /etc/group (empty where they do not exist). */
export function readNameTables(): NameTables {
  return {groups: idTable('/etc/group'), users: idTable('/etc/passwd')}
}

/** id -> name from a passwd/group style file: name:x:id:... */
function idTable(file: string): Map<number, string> {
  const out = new Map<number, string>()
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.startsWith('#')) continue
      const [name, , id] = line.split(':')
      if (name && id !== undefined && /^\d+$/.test(id) && !out.has(Number(id))) out.set(Number(id), name)
    }
  } catch {
    // not on this platform
  }

  return out
}

export interface CurrentUser {
  readonly uid: number | undefined
  readonly gids: readonly number[]
}

export function currentUser(): CurrentUser {
  return {
    gids:
      typeof process.getgroups === 'function'
        ? [...new Set([process.getgid?.() ?? -1, ...process.getgroups()])].filter((g) => g >= 0)
        : [],
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
  }
}

export interface DiskFacts {
  /** The folder asked about. */
  readonly path: string
  /** The folder actually measured (the nearest existing one). */
  readonly measured: string
  readonly freeBytes: number
  readonly totalBytes: number
}

/** Free space on the file system holding `path` (or its nearest existing parent). */
export async function diskFacts(path: string): Promise<DiskFacts> {
  let measured = path
  while (!existsSync(measured) && dirname(measured) !== measured) measured = dirname(measured)
  const s = await statfs(measured)
  return {freeBytes: Number(s.bavail) * Number(s.bsize), measured, path, totalBytes: Number(s.blocks) * Number(s.bsize)}
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

/** Rejects with a TimeoutError when `promise` takes longer than `ms`. The work itself is not cancelled. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms)
      }),
    ])
  } finally {
    if (timer) clearTimeout(timer)
  }
}

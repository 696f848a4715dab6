import {createHash} from 'node:crypto'
import {lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {EngineInfo, Endpoint} from '../engine/types.js'

import {parseEndpointUrl} from '../engine/detection/endpoint.js'
import {probeEndpoint} from '../engine/detection/probe.js'

/** The layout of a cache file; a different one is a miss. */
const FORMAT = 1
/** Even with the same identity, an answer older than this is asked again. */
export const INFO_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000

interface CacheFile {
  readonly format: number
  readonly identity: string
  readonly info: Omit<EngineInfo, 'endpoint'>
  readonly savedAt: number
}

/**
 * What must be unchanged for an engine's /info answer to still hold: the endpoint, the socket
 * file itself (an engine that restarts makes a new one: new inode and change time; the link
 * Docker Desktop keeps at /var/run/docker.sock is looked at both as a link and as its target),
 * and what the engine's /_ping names (API, engine and builder versions: an upgrade changes
 * them, also where a systemd socket stays while the service behind it is replaced).
 * Undefined (no caching) for anything but a local Unix socket: over TCP or SSH nothing local
 * changes when the engine restarts.
 */
export async function engineIdentity(endpoint: Endpoint): Promise<string | undefined> {
  let socketPath: string | undefined
  try {
    socketPath = parseEndpointUrl(endpoint.url, endpoint.source).socketPath
  } catch {
    return undefined
  }

  if (!endpoint.url.startsWith('unix://') || !socketPath) return undefined
  let files: string
  try {
    const link = lstatSync(socketPath)
    const target = statSync(socketPath)
    if (!target.isSocket()) return undefined
    const of = (s: typeof link) => `${s.dev}:${s.ino}:${s.ctimeMs}:${s.birthtimeMs}`
    files = `${of(link)}|${of(target)}`
  } catch {
    return undefined
  }

  const ping = await probeEndpoint(endpoint)
  if (ping.state !== 'ok' || !ping.identity) return undefined
  return `${endpoint.url}|${files}|${ping.identity}`
}

/**
 * The engine facts `server start` builds its container from (rootless, SELinux, version, VM),
 * kept under stigmer's state folder so a warm start need not ask /info (0.2–0.3 s on Podman 4).
 * Read only when the identity is the same (see engineIdentity); written atomically (a
 * temporary file renamed over the old one, private to the user). A cache that cannot be read
 * or written is a miss, never an error.
 */
export class EngineInfoCache {
  private readonly file: string

  constructor(
    private readonly dir: string,
    private readonly identity: string,
    endpointUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    const name = createHash('sha256').update(endpointUrl).digest('hex').slice(0, 16)
    this.file = join(dir, `engine-info-${name}.json`)
  }

  read(endpoint: Endpoint, runtime: string): EngineInfo | undefined {
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as CacheFile
      if (saved.format !== FORMAT || saved.identity !== this.identity || saved.info?.runtime !== runtime)
        return undefined
      const age = this.now() - saved.savedAt
      if (!(age >= 0 && age < INFO_CACHE_MAX_AGE_MS)) return undefined
      return {...saved.info, endpoint}
    } catch {
      return undefined
    }
  }

  write(info: EngineInfo): void {
    const rest = Object.fromEntries(Object.entries(info).filter(([key]) => key !== 'endpoint'))
    const body = {format: FORMAT, identity: this.identity, info: rest, savedAt: this.now()}
    const temporary = `${this.file}.${process.pid}.tmp`
    try {
      mkdirSync(this.dir, {mode: 0o700, recursive: true})
      writeFileSync(temporary, JSON.stringify(body), {mode: 0o600})
      renameSync(temporary, this.file)
    } catch {
      rmSync(temporary, {force: true})
    }
  }
}

import type {IncomingHttpHeaders} from 'node:http'

import {existsSync, readFileSync} from 'node:fs'
import {request as httpRequest} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {connect} from 'node:net'

import type {Endpoint} from './endpoint.js'

import {parseEndpointUrl} from './endpoint.js'

export type ProbeState = 'absent' | 'error' | 'ok' | 'permission' | 'refused' | 'timeout' | 'unprobed'

export interface ProbeResult {
  readonly state: ProbeState
  /** What was seen, in words: "connection refused", "EACCES: permission denied". */
  readonly detail: string
  /** For ok: the engine identified from the API's ping headers. */
  readonly engine?: 'docker' | 'podman'
  readonly apiVersion?: string
  /**
   * For ok: the ping's identity headers (API, engine and builder versions, OS type), in one
   * string. An upgrade changes it; engine-info caching keys on it (src/adapters/info-cache.ts).
   */
  readonly identity?: string
  readonly ms: number
}

/** The /_ping headers that name what answers: versions and OS type, never dates or request ids. */
const IDENTITY_HEADERS = [
  'api-version',
  'builder-version',
  'buildkit-version',
  'docker-experimental',
  'libpod-api-version',
  'libpod-buildah-version',
  'ostype',
  'server',
]

function identify(headers: IncomingHttpHeaders): Pick<ProbeResult, 'apiVersion' | 'engine'> {
  const libpod = headers['libpod-api-version']
  if (libpod) return {apiVersion: String(headers['api-version'] ?? libpod), engine: 'podman'}
  const server = String(headers.server ?? '')
  return {apiVersion: String(headers['api-version'] ?? ''), engine: /libpod/i.test(server) ? 'podman' : 'docker'}
}

/**
 * GET /_ping on an endpoint, with a deadline. Cheap: no engine client library
 * is loaded, so commands that only need to know "is something there" stay fast.
 */
export async function probeEndpoint(
  ep: Endpoint,
  timeoutMs = 1500,
  /** Whether a socket file exists: detection passes its machine view's answer. */
  exists: (path: string) => boolean = existsSync,
): Promise<ProbeResult> {
  const started = Date.now()
  const done = (r: Omit<ProbeResult, 'ms'>): ProbeResult => ({...r, ms: Date.now() - started})
  let parsed
  try {
    parsed = parseEndpointUrl(ep.url, ep.source)
  } catch (error) {
    return done({detail: (error as Error).message, state: 'error'})
  }

  if (parsed.protocol === 'ssh') return done(await probeSsh(parsed.host!, parsed.port!, timeoutMs))
  if (parsed.protocol === 'unix' && !exists(parsed.socketPath!)) {
    return done({detail: `no socket at ${parsed.socketPath}`, state: 'absent'})
  }

  return new Promise((resolve) => {
    const useTls = parsed.protocol === 'tcp' && ep.tls !== undefined
    const read = (p?: string) => (p && existsSync(p) ? readFileSync(p) : undefined)
    const options = {
      method: 'GET',
      path: '/_ping',
      timeout: timeoutMs,
      ...(parsed.socketPath ? {socketPath: parsed.socketPath} : {host: parsed.host, port: parsed.port}),
      ...(useTls
        ? {ca: read(ep.tls!.ca), cert: read(ep.tls!.cert), key: read(ep.tls!.key), rejectUnauthorized: ep.tls!.verify}
        : {}),
    }
    const req = (useTls ? httpsRequest : httpRequest)(options, (res) => {
      res.resume()
      const status = res.statusCode ?? 0
      if (status >= 200 && status < 300) {
        const identity = IDENTITY_HEADERS.map((h) => `${h}=${String(res.headers[h] ?? '')}`).join(';')
        resolve(done({detail: 'answers', identity, state: 'ok', ...identify(res.headers)}))
      } else resolve(done({detail: `answered HTTP ${status}`, state: 'error'}))
    })
    const timer = setTimeout(() => {
      req.destroy()
      resolve(done({detail: `no answer within ${timeoutMs} ms`, state: 'timeout'}))
    }, timeoutMs)
    req.on('close', () => clearTimeout(timer))
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      switch (error.code) {
        case 'EACCES':
        case 'EPERM': {
          resolve(done({detail: `permission denied on ${parsed.socketPath ?? ep.url}`, state: 'permission'}))
          break
        }

        case 'ECONNREFUSED': {
          resolve(done({detail: 'connection refused (the engine is not running)', state: 'refused'}))
          break
        }

        case 'ENOENT': {
          resolve(done({detail: `no socket at ${parsed.socketPath ?? ep.url}`, state: 'absent'}))
          break
        }

        default: {
          resolve(done({detail: `${error.code ?? 'error'}: ${error.message}`, state: 'error'}))
        }
      }
    })
    req.end()
  })
}

/**
 * An ssh:// endpoint: an SSH server must greet at host:port ("SSH-2.0-..."). Logging in and
 * reaching the engine through it are checked when first used; this catches the common case,
 * nothing listening there, in the same time as any other probe.
 */
async function probeSsh(host: string, port: number, timeoutMs: number): Promise<Omit<ProbeResult, 'ms'>> {
  const where = `${host}:${port}`
  return new Promise((resolve) => {
    const socket = connect({host, port})
    let settled = false
    const finish = (r: Omit<ProbeResult, 'ms'>) => {
      if (settled) return
      settled = true
      socket.destroy()
      resolve(r)
    }

    socket.setTimeout(timeoutMs, () =>
      finish({detail: `no SSH server answered at ${where} within ${timeoutMs} ms`, state: 'timeout'}),
    )
    socket.once('data', (chunk: Buffer) =>
      chunk.toString('latin1').startsWith('SSH-')
        ? finish({
            detail: `an SSH server answers at ${where} (the engine behind it is checked when first used)`,
            state: 'ok',
          })
        : finish({detail: `something answers at ${where}, but it is not an SSH server`, state: 'error'}),
    )
    socket.once('close', () =>
      finish({detail: `${where} closed the connection without an SSH greeting`, state: 'error'}),
    )
    socket.once('error', (error: NodeJS.ErrnoException) => {
      switch (error.code) {
        case 'EAI_AGAIN':
        case 'ENOTFOUND': {
          finish({detail: `cannot resolve the host ${host}`, state: 'error'})
          break
        }

        case 'ECONNREFUSED': {
          finish({detail: `connection refused at ${where} (no SSH server there)`, state: 'refused'})
          break
        }

        default: {
          finish({detail: `${error.code ?? 'error'} at ${where}: ${error.message}`, state: 'error'})
        }
      }
    })
  })
}

export interface EngineVersion {
  readonly product: string
  readonly version: string
  readonly apiVersion: string
  readonly os: string
  readonly arch: string
}

/** GET /version over a local socket, without loading an engine client. undefined if it does not answer in time. */
export async function probeVersion(ep: Endpoint, timeoutMs = 1000): Promise<EngineVersion | undefined> {
  let parsed
  try {
    parsed = parseEndpointUrl(ep.url, ep.source)
  } catch {
    return undefined
  }

  if (parsed.protocol !== 'unix' && parsed.protocol !== 'npipe' && !(parsed.protocol === 'tcp' && !ep.tls))
    return undefined
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        method: 'GET',
        path: '/version',
        timeout: timeoutMs,
        ...(parsed.socketPath ? {socketPath: parsed.socketPath} : {host: parsed.host, port: parsed.port}),
      },
      (res) => {
        let body = ''
        res.on('data', (c) => {
          body += c
        })
        res.on('end', () => {
          try {
            const v = JSON.parse(body) as {
              ApiVersion?: string
              Arch?: string
              Components?: Array<{Name?: string}>
              Os?: string
              Platform?: {Name?: string}
              Version?: string
            }
            const product = v.Components?.some((c) => /podman/i.test(c.Name ?? ''))
              ? 'Podman Engine'
              : v.Platform?.Name || 'Docker Engine'
            resolve({
              apiVersion: v.ApiVersion ?? '',
              arch: v.Arch ?? '',
              os: v.Os ?? '',
              product,
              version: v.Version ?? '',
            })
          } catch {
            resolve(undefined)
          }
        })
      },
    )
    const timer = setTimeout(() => {
      req.destroy()
      resolve(undefined)
    }, timeoutMs)
    req.on('close', () => clearTimeout(timer))
    req.on('error', () => resolve(undefined))
    req.end()
  })
}

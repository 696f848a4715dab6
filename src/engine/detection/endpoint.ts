import {usageError} from '../../lib/errors.js'

/** How to reach an engine: a unix socket, a named pipe, TCP or SSH. */
export interface Endpoint {
  /** Where the endpoint came from, for `stigmer doctor` ("DOCKER_HOST", "docker context 'colima'", ...). */
  readonly source: string
  /** The endpoint as a URL: unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host, npipe:////./pipe/docker_engine. */
  readonly url: string
  /** TLS material for tcp:// endpoints (DOCKER_TLS_VERIFY / DOCKER_CERT_PATH or a context's TLS dir). */
  readonly tls?: {ca?: string; cert?: string; key?: string; verify: boolean}
}

export interface ParsedEndpoint {
  readonly protocol: 'npipe' | 'ssh' | 'tcp' | 'unix'
  /** unix/npipe: the socket path. */
  readonly socketPath?: string
  readonly host?: string
  readonly port?: number
  readonly username?: string
}

/**
 * Parses a DOCKER_HOST / CONTAINER_HOST style endpoint. Throws a usage error that
 * names the variable and shows the accepted forms.
 */
export function parseEndpointUrl(url: string, variable = 'DOCKER_HOST'): ParsedEndpoint {
  const forms = 'unix:///path/to/docker.sock, tcp://host:2376, ssh://user@host, npipe:////./pipe/docker_engine'
  const bad = (why: string) =>
    usageError(`${variable}="${url}" is not a valid engine endpoint: ${why}.`, [
      `Use one of: ${forms}.`,
      `Or unset ${variable} to let stigmer find the engine.`,
    ])
  const trimmed = url.trim()
  if (trimmed === '') throw bad('it is empty')
  const match = /^([a-z]+):\/\/(.*)$/.exec(trimmed)
  if (!match) throw bad('it has no scheme')
  const [, scheme, rest] = match as unknown as [string, string, string]
  switch (scheme) {
    case 'npipe': {
      const path = rest.replaceAll('/', '\\')
      if (!/^\\\\\.\\pipe\\.+/.test(path)) throw bad('a named pipe looks like npipe:////./pipe/docker_engine')
      return {protocol: 'npipe', socketPath: path}
    }

    case 'ssh':
    case 'tcp': {
      return parseNetworkEndpoint(trimmed, scheme, bad)
    }

    case 'unix': {
      if (!rest.startsWith('/')) throw bad('a unix socket path must be absolute (unix:///var/run/docker.sock)')
      return {protocol: 'unix', socketPath: rest}
    }

    default: {
      throw bad(`unknown scheme "${scheme}"`)
    }
  }
}

export function endpoint(url: string, source: string, tls?: Endpoint['tls']): Endpoint {
  return tls ? {source, tls, url} : {source, url}
}

/** tcp:// and ssh://: host, port (2375 and 22 by default), the ssh user. */
function parseNetworkEndpoint(url: string, scheme: 'ssh' | 'tcp', bad: (why: string) => Error): ParsedEndpoint {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw bad('the host part cannot be parsed')
  }

  if (parsed.hostname === '') throw bad('it names no host')
  const defaultPort = scheme === 'ssh' ? 22 : 2375
  const port = parsed.port === '' ? defaultPort : Number(parsed.port)
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw bad(`port "${parsed.port}" is out of range`)
  if (scheme === 'tcp' && parsed.pathname !== '' && parsed.pathname !== '/') throw bad('a tcp endpoint has no path')
  return {
    host: parsed.hostname.replaceAll(/^\[|\]$/g, ''),
    port,
    protocol: scheme,
    ...(parsed.username ? {username: decodeURIComponent(parsed.username)} : {}),
  }
}

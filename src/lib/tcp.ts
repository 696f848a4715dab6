import {connect, type Socket} from 'node:net'

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** The port a URL's scheme implies, where the URL names none. */
const SCHEME_PORTS: Record<string, number> = {'http:': 80, 'https:': 443}

/**
 * The one reading of "where is it": host:port, [v6]:port, a bare host or v6 address, a URL
 * (user info and path ignored), or a gRPC dns:///host:port target. A missing port is
 * `defaultPort` (Temporal's 7233 for its address), else the URL scheme's, else the address
 * has none and the answer is undefined, as it is for anything unparseable.
 */
export function parseHostPort(address: string, defaultPort?: number): HostPort | undefined {
  let rest = address.trim()
  const dns = /^dns:\/\/[^/]*\/(.*)$/i.exec(rest)
  if (dns) rest = dns[1]!
  const scheme = /^([a-z][\d+.a-z-]*:)\/\//i.exec(rest)?.[1]?.toLowerCase()
  rest = rest.replace(/^[a-z][\d+.a-z-]*:\/\//i, '').replace(/[#/?].*$/, '')
  rest = rest.replace(/^[^@]*@/, '')
  if (rest === '') return undefined
  const fallback = defaultPort ?? (scheme ? SCHEME_PORTS[scheme] : undefined)
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest)
  let host: string
  let port: number | undefined
  if (v6) {
    host = v6[1]!
    port = v6[2] === undefined ? fallback : Number(v6[2])
  } else if ((rest.match(/:/g)?.length ?? 0) > 1) {
    host = rest
    port = fallback
  } else {
    const [h, p] = rest.split(':') as [string, string | undefined]
    if (p !== undefined && !/^\d+$/.test(p)) return undefined
    host = h
    port = p === undefined ? fallback : Number(p)
  }

  if (host === '' || port === undefined || !Number.isInteger(port) || port <= 0 || port > 65_535) return undefined
  return {host, port}
}

/** True when a TCP connection to host:port succeeds within the timeout. */
export async function canConnect(address: string, timeoutMs = 1000): Promise<boolean> {
  return probe(address, timeoutMs, (socket, finish) => socket.once('connect', () => finish(true)))
}

/** HTTP/2's client connection preface and an empty SETTINGS frame: what a gRPC client sends first. */
const HTTP2_HELLO = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
])

/**
 * True when a server at host:port sends something back to a gRPC client's greeting
 * (Temporal answers with its own SETTINGS) within the timeout. Stricter than
 * canConnect: the engines' port forwarders accept a connection at once, before the
 * server in the container listens, then hang up.
 */
export async function grpcAnswers(address: string, timeoutMs = 1000): Promise<boolean> {
  return probe(address, timeoutMs, (socket, finish) => {
    socket.once('connect', () => socket.write(HTTP2_HELLO))
    socket.once('data', () => finish(true))
    socket.once('close', () => finish(false))
  })
}

/** Connects to host:port; `watch` decides the answer; errors, a timeout or a bad address are false. */
async function probe(
  address: string,
  timeoutMs: number,
  watch: (socket: Socket, finish: (ok: boolean) => void) => void,
): Promise<boolean> {
  const target = parseHostPort(address)
  if (!target) return false
  return new Promise((resolve) => {
    const socket = connect({host: target.host, port: target.port})
    let done = false
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      socket.destroy()
      resolve(ok)
    }

    socket.setTimeout(timeoutMs, () => finish(false))
    socket.once('error', () => finish(false))
    watch(socket, finish)
  })
}

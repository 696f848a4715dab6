import {connect, type Socket} from 'node:net'

/** Splits "host:port" (also "[::1]:7233" and URLs); undefined when it has no port. */
export function splitHostPort(address: string): {host: string; port: number} | undefined {
  let text = address.trim()
  const scheme = /^[a-z][\w+.-]*:\/\//i.exec(text)
  if (scheme) {
    try {
      const url = new URL(text)
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
      return {host: url.hostname.replaceAll(/^\[|\]$/g, ''), port}
    } catch {
      return undefined
    }
  }

  text = text.replace(/\/.*$/, '')
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text)
  if (!match) return undefined
  const port = Number(match[2])
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) return undefined
  return {host: match[1]!, port}
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
  const target = splitHostPort(address)
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

import {connect} from 'node:net'

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
  const target = splitHostPort(address)
  if (!target) return false
  return new Promise((resolve) => {
    const socket = connect({host: target.host, port: target.port})
    const finish = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }

    socket.setTimeout(timeoutMs, () => finish(false))
    socket.once('connect', () => finish(true))
    socket.once('error', () => finish(false))
  })
}

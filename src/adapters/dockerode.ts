import type DockerodeType from 'dockerode'
import type {Socket} from 'node:net'
import type {Duplex} from 'node:stream'

import {Agent} from 'node:http'
import Module, {createRequire} from 'node:module'
import {userInfo} from 'node:os'

const require = createRequire(import.meta.url)

/**
 * Puts a stand-in for a module in the require cache that loads the real one on
 * first call. dockerode requires gRPC and protobufjs (BuildKit sessions) and
 * docker-modem requires ssh2 (ssh:// endpoints) at load time: together about a
 * third of `server status`'s wall time here, for features most runs never use.
 */
function deferModule(request: string): void {
  const path = require.resolve(request)
  if (require.cache[path]) return
  const stub = new Module(path)
  stub.filename = path
  stub.loaded = true
  stub.exports = (...args: unknown[]) => {
    delete require.cache[path]
    return (require(path) as (...a: unknown[]) => unknown)(...args)
  }

  require.cache[path] = stub
}

// Both modules export one function, called only when a session / an ssh agent is made.
deferModule('dockerode/lib/session.js')
deferModule('docker-modem/lib/ssh.js')

export const Dockerode = require('dockerode') as typeof DockerodeType

export interface SshTarget {
  readonly host: string
  readonly port: number
  readonly username?: string
  /** The ssh-agent socket (SSH_AUTH_SOCK). */
  readonly agent?: string
}

type SshChannel = Duplex
interface SshClient {
  connect(options: Record<string, unknown>): void
  end(): void
  exec(command: string, callback: (error: Error | undefined, stream: SshChannel) => void): void
  once(event: 'close' | 'ready', listener: () => void): SshClient
  once(event: 'error', listener: (error: Error) => void): SshClient
}

/**
 * An HTTP agent whose every connection is a fresh SSH session running `docker system dial-stdio`,
 * as the docker CLI does. Unlike docker-modem's own ssh agent, a session that closes or times out
 * before the engine answers fails the request (exit 11) instead of leaving it pending forever.
 * ssh2 is docker-modem's dependency, loaded only here.
 */
export function sshHttpAgent(target: SshTarget, readyTimeoutMs = 10_000): Agent {
  const agent = new Agent()
  const where = `${target.host}:${target.port}`
  agent.createConnection = (_options, cb) => {
    const callback = cb!
    const {Client} = createRequire(require.resolve('docker-modem'))('ssh2') as {Client: new () => SshClient}
    const conn = new Client()
    let settled = false
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      conn.end()
      callback(Object.assign(error, {level: (error as {level?: string}).level ?? 'client-socket'}), undefined as never)
    }

    conn.once('error', fail)
    conn.once('close', () => fail(new Error(`the SSH session to ${where} closed before the engine answered`)))
    conn.once('ready', () => {
      conn.exec('docker system dial-stdio', (error, stream) => {
        if (error) {
          fail(error)
          return
        }

        settled = true
        stream.once('close', () => conn.end())
        callback(null, stream as unknown as Socket)
      })
    })
    conn.connect({
      host: target.host,
      port: target.port,
      readyTimeout: readyTimeoutMs,
      username: target.username ?? userInfo().username,
      ...(target.agent ? {agent: target.agent} : {}),
    })
    return undefined
  }

  return agent
}

import type DockerodeType from 'dockerode'
import type {Socket} from 'node:net'
import type {Duplex} from 'node:stream'

import {readFileSync} from 'node:fs'
import {Agent} from 'node:http'
import Module, {createRequire} from 'node:module'
import {userInfo} from 'node:os'

import type {Endpoint} from '../engine/types.js'

import {parseEndpointUrl} from '../engine/detection/endpoint.js'

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

/**
 * docker-modem's constructor starts from what the process's env says (DOCKER_HOST,
 * DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_PATH_PREFIX, DOCKER_CLIENT_TIMEOUT) and lays the
 * given options over it key by key: a key left out comes from the env (a tcp DOCKER_HOST's
 * host would win over a unix socketPath). The endpoint was chosen by detection already, so
 * every one of those keys is given, unset unless the endpoint sets it.
 */
const NOTHING_FROM_ENV = {
  ca: undefined,
  cert: undefined,
  host: undefined,
  key: undefined,
  pathPrefix: undefined,
  port: undefined,
  protocol: undefined,
  socketPath: undefined,
  timeout: undefined,
  username: undefined,
} as const

/** The env variables docker-modem reads when it makes a client. */
const DOCKER_ENV = ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'] as const

/**
 * Builds the dockerode client for an endpoint, from the endpoint alone: nothing of the
 * process's DOCKER_* env reaches it. `env` gives SSH_AUTH_SOCK for ssh:// endpoints.
 */
export function dockerodeFor(
  ep: Endpoint,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DockerodeType {
  const options = {...NOTHING_FROM_ENV, ...clientOptions(ep, env)} as DockerodeType.DockerOptions
  try {
    return new Dockerode(options)
  } catch (error) {
    if (!DOCKER_ENV.some((name) => process.env[name] !== undefined)) throw error
    // docker-modem reads the env before it looks at the options, and throws on what it cannot
    // read (a DOCKER_HOST that is no URL, a DOCKER_CERT_PATH without the certificates) even
    // though none of it would be used; no option turns that reading off. Only then are the
    // variables hidden from it, for the synchronous constructor call alone (no other code can
    // run in between), and put back at once.
    const saved = DOCKER_ENV.map((name) => [name, process.env[name]] as const)
    for (const [name] of saved) delete process.env[name]
    try {
      return new Dockerode(options)
    } finally {
      for (const [name, value] of saved) if (value !== undefined) process.env[name] = value
    }
  }
}

/** The options that say where the engine is and how to reach it. */
function clientOptions(ep: Endpoint, env: Readonly<Record<string, string | undefined>>): DockerodeType.DockerOptions {
  const parsed = parseEndpointUrl(ep.url, ep.source)
  switch (parsed.protocol) {
    case 'npipe':
    case 'unix': {
      return {socketPath: parsed.socketPath!}
    }

    case 'ssh': {
      // Plain HTTP through an agent whose connections are `docker system dial-stdio` over SSH.
      // docker-modem's own protocol: 'ssh' builds "ssh:host:port" request URLs that Node
      // parses with a DEP0170 warning on every request.
      return {
        agent: sshHttpAgent({
          host: parsed.host!,
          port: parsed.port!,
          ...(parsed.username ? {username: parsed.username} : {}),
          ...(env.SSH_AUTH_SOCK ? {agent: env.SSH_AUTH_SOCK} : {}),
        }),
        host: parsed.host!,
        port: parsed.port!,
        protocol: 'http',
      } as DockerodeType.DockerOptions
    }

    case 'tcp': {
      const {tls} = ep
      return {
        host: parsed.host!,
        port: parsed.port!,
        protocol: tls ? 'https' : 'http',
        ...(tls ? {ca: readIfThere(tls.ca), cert: readIfThere(tls.cert), key: readIfThere(tls.key)} : {}),
      } as DockerodeType.DockerOptions
    }
  }
}

function readIfThere(path: string | undefined): Buffer | undefined {
  if (!path) return undefined
  try {
    return readFileSync(path)
  } catch {
    return undefined
  }
}

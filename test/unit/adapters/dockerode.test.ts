import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {dockerodeFor} from '../../../src/adapters/dockerode.js'

/** The fields of docker-modem's client that say where it connects (its types do not list them). */
interface ModemFields {
  ca?: unknown
  cert?: unknown
  host?: string
  key?: unknown
  port?: number | string
  protocol?: string
  socketPath?: unknown
}

const modemOf = (client: {modem: unknown}) => client.modem as ModemFields

const DOCKER_ENV = ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'] as const

/** Runs fn with these DOCKER_* variables in process.env, and records every write to process.env meanwhile. */
function withDockerEnv<T>(
  vars: Partial<Record<(typeof DOCKER_ENV)[number], string>>,
  fn: () => T,
): {result: T; writes: string[]} {
  const original = process.env
  const env: NodeJS.ProcessEnv = {...original}
  for (const name of DOCKER_ENV) delete env[name]
  Object.assign(env, vars)
  const writes: string[] = []
  process.env = new Proxy(env, {
    deleteProperty(target, key) {
      writes.push(`delete ${String(key)}`)
      return Reflect.deleteProperty(target, key)
    },
    set(target, key, value) {
      writes.push(`set ${String(key)}`)
      return Reflect.set(target, key, value)
    },
  })
  try {
    return {result: fn(), writes}
  } finally {
    process.env = original
  }
}

/** An engine stand-in on a unix socket that answers /_ping. */
async function pingServer(socketPath: string): Promise<Server> {
  const server = createServer((_req, res) => res.end('OK'))
  await new Promise<void>((resolve) => {
    server.listen(socketPath, resolve)
  })
  return server
}

describe('dockerodeFor: the client for a detected endpoint', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-dockerode-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  it('talks to the endpoint, not to the DOCKER_HOST in the env, and leaves the env alone', async () => {
    const socketPath = join(dir, 'engine.sock')
    const server = await pingServer(socketPath)
    try {
      const {result: client, writes} = withDockerEnv(
        {DOCKER_CERT_PATH: dir, DOCKER_HOST: 'tcp://192.0.2.1:2376', DOCKER_TLS_VERIFY: '1'},
        () => {
          // DOCKER_CERT_PATH must hold readable certificates for docker-modem not to throw.
          writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nnot used\n-----END CERTIFICATE-----\n')
          for (const file of ['cert.pem', 'key.pem']) writeFileSync(join(dir, file), 'not used')
          return dockerodeFor({source: 'test', url: `unix://${socketPath}`}, {})
        },
      )
      expect(writes).to.deep.equal([])
      expect(modemOf(client).host).to.equal(undefined)
      expect(modemOf(client).protocol).to.equal('http')
      expect(modemOf(client).ca).to.equal(undefined)
      expect(String(await client.ping())).to.equal('OK')
    } finally {
      server.close()
    }
  })

  it('a DOCKER_HOST docker-modem cannot read does not stop a client for another endpoint, and is still there after', async () => {
    const socketPath = join(dir, 'engine.sock')
    const server = await pingServer(socketPath)
    try {
      for (const vars of [
        {DOCKER_HOST: 'tcp://[not a host'},
        {DOCKER_CERT_PATH: join(dir, 'none'), DOCKER_HOST: 'tcp://192.0.2.1:2376'},
      ]) {
        let after: NodeJS.ProcessEnv = {}
        const {result: client} = withDockerEnv(vars, () => {
          const made = dockerodeFor({source: 'test', url: `unix://${socketPath}`}, {})
          after = {...process.env}
          return made
        })
        for (const [name, value] of Object.entries(vars)) expect(after[name], name).to.equal(value)
        expect(String(await client.ping())).to.equal('OK')
      }
    } finally {
      server.close()
    }
  })

  it('a tcp endpoint with TLS uses its own certificates over https', () => {
    for (const file of ['ca', 'cert', 'key']) writeFileSync(join(dir, `${file}.pem`), `the ${file}`)
    const {result: client} = withDockerEnv({DOCKER_HOST: 'unix:///var/run/other.sock'}, () =>
      dockerodeFor(
        {
          source: 'test',
          tls: {ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), verify: true},
          url: 'tcp://192.0.2.1:2376',
        },
        {},
      ),
    )
    const modem = modemOf(client)
    expect([modem.protocol, modem.host, String(modem.port), modem.socketPath]).to.deep.equal([
      'https',
      '192.0.2.1',
      '2376',
      undefined,
    ])
    expect([String(modem.ca), String(modem.cert), String(modem.key)]).to.deep.equal(['the ca', 'the cert', 'the key'])
  })
})

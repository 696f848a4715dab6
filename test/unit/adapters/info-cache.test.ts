import {expect} from 'chai'
import {mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {EngineInfo, Endpoint} from '../../../src/engine/types.js'

import {EngineInfoCache, engineIdentity, INFO_CACHE_MAX_AGE_MS} from '../../../src/adapters/info-cache.js'

/** A stand-in engine socket answering /_ping with the given version headers. */
async function fakeEngine(socket: string, version: string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, {'Api-Version': '1.41', 'Libpod-Api-Version': version, Server: `Libpod/${version} (linux)`})
    res.end('OK')
  })
  await new Promise<void>((resolve) => {
    server.listen(socket, resolve)
  })
  return server
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
  })

describe('engine info cache', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-info-cache-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  const info = (endpoint: Endpoint): EngineInfo => ({
    apiVersion: '1.41',
    arch: 'amd64',
    endpoint,
    inVm: false,
    name: 'Podman Engine',
    os: 'linux',
    rootless: true,
    runtime: 'podman',
    securityOptions: ['name=rootless', 'name=selinux'],
    version: '4.3.1',
  })

  it('gives back what was stored while the engine is the same one; a restarted or upgraded engine is a miss', async () => {
    const socket = join(dir, 'engine.sock')
    const endpoint: Endpoint = {source: 'test', url: `unix://${socket}`}
    let server = await fakeEngine(socket, '4.3.1')
    const first = await engineIdentity(endpoint)
    expect(first).to.be.a('string')
    new EngineInfoCache(join(dir, 'state'), first!, endpoint.url).write(info(endpoint))
    expect(statSync(join(dir, 'state')).mode).to.satisfy((m: number) => m % 0o1000 === 0o700)
    const [file] = readdirSync(join(dir, 'state'))
    expect(statSync(join(dir, 'state', file!)).mode).to.satisfy((m: number) => m % 0o1000 === 0o600)
    expect(await engineIdentity(endpoint)).to.equal(first)
    expect(new EngineInfoCache(join(dir, 'state'), first!, endpoint.url).read(endpoint, 'podman')).to.deep.equal(
      info(endpoint),
    )
    // Another runtime's adapter on the same endpoint does not take it.
    expect(new EngineInfoCache(join(dir, 'state'), first!, endpoint.url).read(endpoint, 'docker')).to.equal(undefined)

    // The engine restarts (a new socket): another identity, so the stored answer is not read.
    await close(server)
    rmSync(socket, {force: true})
    server = await fakeEngine(socket, '4.3.1')
    const restarted = await engineIdentity(endpoint)
    expect(restarted).to.not.equal(first)
    expect(new EngineInfoCache(join(dir, 'state'), restarted!, endpoint.url).read(endpoint, 'podman')).to.equal(
      undefined,
    )
    await close(server)
    rmSync(socket, {force: true})
    server = await fakeEngine(socket, '5.0.0')
    expect(await engineIdentity(endpoint)).to.not.equal(restarted)
    await close(server)
  })

  it('is a miss when too old, unreadable or of another layout; nothing is cached for TCP or a missing socket', async () => {
    const endpoint: Endpoint = {source: 'test', url: `unix://${join(dir, 'x.sock')}`}
    let now = 1_000_000
    const cache = new EngineInfoCache(dir, 'id', endpoint.url, () => now)
    cache.write(info(endpoint))
    expect(cache.read(endpoint, 'podman')).to.not.equal(undefined)
    now += INFO_CACHE_MAX_AGE_MS
    expect(cache.read(endpoint, 'podman')).to.equal(undefined)
    for (const name of readdirSync(dir)) writeFileSync(join(dir, name), '{not json')
    expect(cache.read(endpoint, 'podman')).to.equal(undefined)
    expect(await engineIdentity({source: 'test', url: 'tcp://127.0.0.1:1'})).to.equal(undefined)
    expect(await engineIdentity(endpoint)).to.equal(undefined)
  })
})

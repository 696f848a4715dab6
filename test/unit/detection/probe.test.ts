import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {probeEndpoint, probeVersion} from '../../../src/detection/probe.js'

async function listen(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => {
    server.listen(path, resolve)
  })
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
  })
}

function ep(path: string) {
  return {source: 'test', url: `unix://${path}`}
}

describe('probeEndpoint / probeVersion (on real unix sockets)', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-probe-'))
  })

  afterEach(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  it('a missing socket is absent', async () => {
    const result = await probeEndpoint(ep(join(dir, 'none.sock')))
    expect(result.state).to.equal('absent')
    expect(result.detail).to.contain('none.sock')
  })

  it('a socket file nobody listens on is refused (installed but not running)', async () => {
    const path = join(dir, 'stale.sock')
    // A process that binds and exits without unlinking leaves a dead socket behind, as a crashed daemon does.
    execFileSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ])
    expect(existsSync(path)).to.equal(true)
    const result = await probeEndpoint(ep(path))
    expect(result.state).to.equal('refused')
    expect(result.detail).to.contain('connection refused')
  })

  it('identifies Docker and Podman from the /_ping headers', async () => {
    const path = join(dir, 'engine.sock')
    let libpod = false
    const server = createServer((req, res) => {
      expect(req.url).to.equal('/_ping')
      res.setHeader('Api-Version', '1.41')
      if (libpod) res.setHeader('Libpod-Api-Version', '4.3.1')
      res.end('OK')
    })
    await listen(server, path)
    try {
      expect(await probeEndpoint(ep(path))).to.deep.include({apiVersion: '1.41', engine: 'docker', state: 'ok'})
      libpod = true
      expect(await probeEndpoint(ep(path))).to.deep.include({engine: 'podman', state: 'ok'})
    } finally {
      await close(server)
    }
  })

  it('an HTTP error is an error, and silence is a timeout within the deadline', async () => {
    const path = join(dir, 'bad.sock')
    let mode: 'error' | 'silent' = 'error'
    const server = createServer((_req, res) => {
      if (mode === 'error') {
        res.statusCode = 500
        res.end('no')
      }
    })
    await listen(server, path)
    try {
      expect(await probeEndpoint(ep(path))).to.deep.include({detail: 'answered HTTP 500', state: 'error'})
      mode = 'silent'
      const started = Date.now()
      const result = await probeEndpoint(ep(path), 200)
      expect(result.state).to.equal('timeout')
      expect(Date.now() - started).to.be.lessThan(2000)
    } finally {
      await close(server)
    }
  })

  it('ssh endpoints are not probed up front; malformed ones are errors, not throws', async () => {
    expect((await probeEndpoint({source: 'test', url: 'ssh://core@h'})).state).to.equal('unprobed')
    expect((await probeEndpoint({source: 'DOCKER_HOST', url: 'tcp//oops'})).state).to.equal('error')
  })

  it('probeVersion reads product and version, and says Podman for a Podman engine', async () => {
    const path = join(dir, 'v.sock')
    const server = createServer((_req, res) => {
      res.end(
        JSON.stringify({
          ApiVersion: '1.41',
          Arch: 'amd64',
          Components: [{Name: 'Podman Engine'}],
          Os: 'linux',
          Version: '4.3.1',
        }),
      )
    })
    await listen(server, path)
    try {
      expect(await probeVersion(ep(path))).to.deep.equal({
        apiVersion: '1.41',
        arch: 'amd64',
        os: 'linux',
        product: 'Podman Engine',
        version: '4.3.1',
      })
    } finally {
      await close(server)
    }

    expect(await probeVersion(ep(join(dir, 'none.sock')), 200)).to.equal(undefined)
  })
})

import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {createServer as createNetServer, type Server as NetServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {probeEndpoint, probeVersion} from '../../../../src/engine/detection/probe.js'

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

  it('malformed endpoints are errors, not throws', async () => {
    expect((await probeEndpoint({source: 'DOCKER_HOST', url: 'tcp//oops'})).state).to.equal('error')
  })

  describe('ssh endpoints: an SSH server must greet at host:port', () => {
    async function tcpServer(greeting: string | undefined): Promise<{port: number; server: NetServer}> {
      const server = createNetServer((socket) => {
        if (greeting === undefined) socket.destroy()
        else socket.end(greeting)
      })
      await new Promise<void>((resolve) => {
        server.listen(0, '127.0.0.1', resolve)
      })
      return {port: (server.address() as {port: number}).port, server}
    }

    it('nothing listening: refused, at once', async () => {
      const {port, server} = await tcpServer('x')
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
      })
      const r = await probeEndpoint({source: 'DOCKER_HOST', url: `ssh://nobody@127.0.0.1:${port}`})
      expect(r.state).to.equal('refused')
      expect(r.detail).to.equal(`connection refused at 127.0.0.1:${port} (no SSH server there)`)
    })

    it('an SSH greeting: ok; something else: error', async () => {
      const ssh = await tcpServer('SSH-2.0-OpenSSH_9.2p1\r\n')
      const web = await tcpServer('HTTP/1.1 400 Bad Request\r\n\r\n')
      try {
        expect((await probeEndpoint({source: 'DOCKER_HOST', url: `ssh://core@127.0.0.1:${ssh.port}`})).state).to.equal(
          'ok',
        )
        const r = await probeEndpoint({source: 'DOCKER_HOST', url: `ssh://core@127.0.0.1:${web.port}`})
        expect(r.state).to.equal('error')
        expect(r.detail).to.contain('not an SSH server')
      } finally {
        ssh.server.close()
        web.server.close()
      }
    })
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

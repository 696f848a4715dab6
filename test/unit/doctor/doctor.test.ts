/* eslint-disable no-bitwise -- file modes are bit fields */
import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer, type Server} from 'node:http'
import {createServer as createTcpServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {runDoctor, temporalAddressFor, workspaceFor} from '../../../src/doctor/doctor.js'
import {
  currentUser,
  diskFacts,
  probeWorkspace,
  socketFacts,
  tcpProbe,
  TimeoutError,
  withTimeout,
} from '../../../src/doctor/facts.js'
import {renderDoctorReport} from '../../../src/doctor/render.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {useColor} from '../../../src/lib/terminal.js'
import {startTemporalStandin, type TemporalStandin} from '../../helpers/temporal-standin.js'

/** A fake engine API on a unix socket: enough of /_ping, /version, /info and /images for doctor. */
async function fakeEngine(
  socketPath: string,
  options: {images?: string[]; dataRoot: string; os?: string},
): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const url = (req.url ?? '').replace(/^\/v\d+\.\d+/, '')
    const json = (status: number, body: unknown) => {
      res.writeHead(status, {'Api-Version': '1.45', 'Content-Type': 'application/json'})
      res.end(JSON.stringify(body))
    }

    switch (url) {
      case '/_ping': {
        res.writeHead(200, {'Api-Version': '1.45', 'Content-Type': 'text/plain'})
        res.end('OK')

        break
      }

      case '/info': {
        json(200, {
          DockerRootDir: options.dataRoot,
          KernelVersion: '6.1.0',
          OperatingSystem: options.os ?? 'Debian GNU/Linux 12',
          SecurityOptions: ['name=seccomp'],
        })

        break
      }

      case '/version': {
        json(200, {
          ApiVersion: '1.45',
          Arch: 'amd64',
          Os: 'linux',
          Platform: {Name: 'Docker Engine - Community'},
          Version: '27.0.3',
        })

        break
      }

      default: {
        if (url.startsWith('/images/')) {
          const name = decodeURIComponent(url.slice('/images/'.length).replace(/\/json.*$/, ''))
          if (options.images?.includes(name)) {
            json(200, {
              Architecture: 'amd64',
              Config: {Labels: {}},
              Created: '2025-01-01T00:00:00Z',
              Id: 'sha256:' + 'ab'.repeat(32),
              Os: 'linux',
              RepoDigests: [],
              RepoTags: [name],
              Size: 300e6,
            })
          } else {
            json(404, {message: `No such image: ${name}`})
          }
        } else {
          json(404, {message: 'not here'})
        }
      }
    }
  })
  await new Promise<void>((resolve) => {
    server.listen(socketPath, resolve)
  })
  return server
}

/** An environment that finds only the engine at DOCKER_HOST: no default sockets, no binaries. */
function isolatedEnv(dir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    CONTAINER_HOST: `unix://${join(dir, 'no-podman.sock')}`,
    HOME: dir,
    PATH: '',
    STIGMER_HOME: join(dir, 'stigmer'),
    ...extra,
  }
}

describe('doctor service', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-doctor-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  describe('probes', () => {
    it('probeWorkspace: writes a temporary file and removes it, leaving the folder as it was', () => {
      writeFileSync(join(dir, 'keep.txt'), 'x')
      const facts = probeWorkspace(dir)
      expect(facts).to.include({exists: true, isDirectory: true, writable: true})
      expect(readdirSync(dir)).to.deep.equal(['keep.txt'])
    })

    it('probeWorkspace: a missing folder reports the nearest existing parent', () => {
      const facts = probeWorkspace(join(dir, 'a', 'b', 'workspace'))
      expect(facts).to.include({exists: false, nearestExisting: dir, nearestWritable: true})
      expect(readdirSync(dir)).to.deep.equal([])
    })

    it('probeWorkspace: a file is not a folder', () => {
      writeFileSync(join(dir, 'f'), '')
      expect(probeWorkspace(join(dir, 'f'))).to.include({exists: true, isDirectory: false})
    })

    it('probeWorkspace: a folder this user cannot write is not writable', () => {
      // Root writes through mode bits: give it a folder no one can create files in.
      if (process.getuid?.() === 0) {
        expect(probeWorkspace('/proc')).to.include({writable: false})
        return
      }

      const ro = join(dir, 'ro')
      mkdirSync(ro)
      chmodSync(ro, 0o555)
      expect(probeWorkspace(ro)).to.include({writable: false})
      chmodSync(ro, 0o755)
    })

    it('tcpProbe: a listening port answers, a closed one is refused', async () => {
      const server = createTcpServer((s) => s.destroy())
      await new Promise<void>((resolve) => {
        server.listen(0, '127.0.0.1', resolve)
      })
      const {port} = server.address() as {port: number}
      expect((await tcpProbe('127.0.0.1', port, 1000)).ok).to.equal(true)
      await new Promise((resolve) => {
        server.close(resolve)
      })
      const closed = await tcpProbe('127.0.0.1', port, 1000)
      expect(closed.ok).to.equal(false)
      expect(closed.detail).to.match(/refused/)
    })

    it('socketFacts: mode, owner and access of a real socket; undefined when absent', async () => {
      const path = join(dir, 's.sock')
      const server = createTcpServer()
      await new Promise<void>((resolve) => {
        server.listen(path, resolve)
      })
      chmodSync(path, 0o660)
      const facts = socketFacts(path, {groups: new Map(), users: new Map()})
      expect(facts).to.include({accessible: true, isSocket: true, path})
      expect(facts!.mode & 0o777).to.equal(0o660)
      await new Promise((resolve) => {
        server.close(resolve)
      })
      expect(socketFacts(join(dir, 'none.sock'))).to.equal(undefined)
    })

    it('diskFacts: measures the nearest existing folder', async () => {
      const facts = await diskFacts(join(dir, 'not', 'yet'))
      expect(facts.measured).to.equal(dir)
      expect(facts.freeBytes).to.be.greaterThan(0)
      expect(facts.totalBytes).to.be.at.least(facts.freeBytes)
    })

    it('withTimeout rejects with a TimeoutError', async () => {
      const never = new Promise(() => {})
      const error = await withTimeout(never, 20, 'Docker').catch((error_: unknown) => error_)
      expect(error).to.be.instanceOf(TimeoutError)
      expect((error as Error).message).to.equal('Docker did not answer within 20 ms')
    })

    it('currentUser lists the groups', () => {
      const user = currentUser()
      if (process.platform !== 'win32') expect(user.gids.length).to.be.greaterThan(0)
    })
  })

  describe('inputs', () => {
    it('workspaceFor: default, ~ in the config, relative to home', () => {
      expect(workspaceFor({}, '/h/.stigmer/data/workspace', '/h', '/h/.stigmer/config.yaml')).to.deep.equal({
        path: '/h/.stigmer/data/workspace',
        source: 'default',
      })
      expect(workspaceFor({workspace: '~/ws'}, '/d', '/h', '/c.yaml')).to.deep.equal({
        path: '/h/ws',
        source: 'workspace in /c.yaml',
      })
      expect(workspaceFor({workspace: 'ws'}, '/d', '/h', '/c.yaml').path).to.equal('/h/ws')
      expect(workspaceFor({workspace: '/srv/ws'}, '/d', '/h', '/c.yaml').path).to.equal('/srv/ws')
    })

    it('temporalAddressFor: environment, then config, then localhost:7233', () => {
      expect(
        temporalAddressFor({TEMPORAL_SERVICE_ADDRESS: 't:1'}, {env: {TEMPORAL_SERVICE_ADDRESS: 'c:2'}}, '/c.yaml'),
      ).to.deep.equal({address: 't:1', source: 'TEMPORAL_SERVICE_ADDRESS'})
      expect(temporalAddressFor({}, {env: {TEMPORAL_SERVICE_ADDRESS: 'c:2'}}, '/c.yaml')).to.deep.equal({
        address: 'c:2',
        source: 'env.TEMPORAL_SERVICE_ADDRESS in /c.yaml',
      })
      expect(temporalAddressFor({}, {}, '/c.yaml')).to.deep.equal({address: 'localhost:7233', source: 'default'})
    })

    it('useColor: only on a TTY without NO_COLOR', () => {
      expect(useColor({isTTY: true}, {})).to.equal(true)
      expect(useColor({isTTY: false}, {})).to.equal(false)
      expect(useColor({isTTY: true}, {NO_COLOR: '1'})).to.equal(false)
      expect(useColor({isTTY: true}, {TERM: 'dumb'})).to.equal(false)
    })
  })

  describe('runDoctor against a fake engine', () => {
    let engine: Server | undefined
    let temporal: TemporalStandin | undefined
    let notTemporal: ReturnType<typeof createTcpServer> | undefined

    afterEach(async () => {
      await temporal?.stop()
      await Promise.all(
        [engine, notTemporal].map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s) s.close(() => resolve())
              else resolve()
            }),
        ),
      )
      engine = undefined
      temporal = undefined
      notTemporal = undefined
    })

    it('a healthy machine: every check ok, exit 0', async () => {
      const sock = join(dir, 'docker.sock')
      engine = await fakeEngine(sock, {dataRoot: dir, images: ['ghcr.io/stigmer/agent-runner:v9.9.9']})
      // Temporal's gRPC API, served from its published protos (a TCP listener is not enough: see below).
      temporal = await startTemporalStandin({host: '127.0.0.1'})
      const {port} = temporal
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {DOCKER_HOST: `unix://${sock}`, TEMPORAL_SERVICE_ADDRESS: `127.0.0.1:${port}`}),
        home: dir,
        platform: 'linux',
      })
      const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]))
      expect(report.verdict, JSON.stringify(report.checks, null, 2)).to.equal('ok')
      expect(report.exitCode).to.equal(0)
      expect(byId.engine!.detail).to.match(/^Docker at unix:\/\/.*docker.sock \(DOCKER_HOST\), chosen by DOCKER_HOST$/)
      expect(byId['engine-info']!.detail).to.match(
        /Docker Engine - Community 27.0.3 \(API 1.45\), linux\/amd64, rootful, engine runs on this machine/,
      )
      expect(byId.network!.detail).to.match(/host networking/)
      expect(byId.disk!.detail).to.match(new RegExp(`at ${dir}, where Docker Engine - Community keeps images`))
      expect(byId.image!.status).to.equal('ok')
      expect(byId.temporal!.status).to.equal('ok')
      expect(byId.temporal!.detail).to.match(
        /^Temporal 0\.0\.0-stigmer-standin at 127\.0\.0\.1:\d+ .*gRPC GetSystemInfo/,
      )
      expect(byId.workspace!.detail).to.match(/does not exist yet/)
      expect(byId[`socket:${sock}`]!.status).to.equal('ok')
      expect(report.chosen).to.include({
        choiceSource: 'DOCKER_HOST',
        endpoint: `unix://${sock}`,
        runtime: 'docker',
        source: 'DOCKER_HOST',
        wouldStart: false,
      })
      expect(report.chosen!.network).to.deep.equal({
        mode: 'host',
        reason: 'Linux: host networking reaches localhost:7233 and localhost:7234 directly',
      })
      const podman = report.engines.find((e) => e.runtime === 'podman')!
      expect(podman).to.include({state: 'absent', usable: false})
      // The JSON shape has no internal fields.
      for (const c of report.checks)
        expect(Object.keys(c).sort()).to.satisfy((keys: string[]) =>
          keys.every((k) => ['detail', 'hint', 'id', 'status', 'title'].includes(k)),
        )
      const text = renderDoctorReport(report, {color: false})
      expect(text).to.match(/^ {2}ok {4}docker/m)
      expect(text).to.match(/<- chosen/)
      expect(text).to.match(/Verdict: ok$/m)
    })

    it('a DOCKER_HOST that does not answer fails the engine check with exit 11, naming it; nothing else is chosen', async () => {
      const missing = join(dir, 'missing.sock')
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {DOCKER_HOST: `unix://${missing}`, TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:1'}),
        home: dir,
        platform: 'linux',
        temporalTimeoutMs: 200,
      })
      expect(report.exitCode).to.equal(ExitCode.RUNTIME_UNREACHABLE)
      expect(report.chosen).to.equal(null)
      const engineCheck = report.checks.find((c) => c.id === 'engine')!
      expect(engineCheck.status).to.equal('fail')
      expect(engineCheck.detail).to.contain(`unix://${missing} (from DOCKER_HOST) does not answer`)
      expect(report.failure?.suggestions.join('\n')).to.contain('unset DOCKER_HOST')
      expect(report.engines.find((e) => e.explicit)).to.include({endpoint: `unix://${missing}`, source: 'DOCKER_HOST'})
      expect(renderDoctorReport(report, {color: false})).to.match(/exit code 11/)
    })

    it('a port that accepts TCP but is not Temporal (a port forwarder, another server): a warning, not ok', async () => {
      const sock = join(dir, 'docker.sock')
      engine = await fakeEngine(sock, {dataRoot: dir, images: ['ghcr.io/stigmer/agent-runner:v9.9.9']})
      // Accepts and keeps the connection, says nothing: what a port forwarder with nothing behind it does.
      notTemporal = createTcpServer((socket) => {
        notTemporal!.once('close', () => socket.destroy())
        setTimeout(() => socket.destroy(), 5000).unref()
      })
      await new Promise<void>((resolve) => {
        notTemporal!.listen(0, '127.0.0.1', resolve)
      })
      const {port} = notTemporal.address() as {port: number}
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {DOCKER_HOST: `unix://${sock}`, TEMPORAL_SERVICE_ADDRESS: `127.0.0.1:${port}`}),
        home: dir,
        platform: 'linux',
        temporalTimeoutMs: 500,
      })
      const temporalCheck = report.checks.find((c) => c.id === 'temporal')!
      expect(temporalCheck.status, temporalCheck.detail).to.equal('warn')
      expect(temporalCheck.detail).to.match(/^Temporal does not answer at 127\.0\.0\.1:\d+/)
    })

    it('an engine in a VM (Docker Desktop): bridge networking, disk measured at home', async () => {
      const sock = join(dir, 'docker.sock')
      engine = await fakeEngine(sock, {dataRoot: '/var/lib/docker', os: 'Docker Desktop'})
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {DOCKER_HOST: `unix://${sock}`, TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:1'}),
        home: dir,
        platform: 'linux',
        temporalTimeoutMs: 300,
      })
      const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]))
      expect(report.chosen!.network!.mode).to.equal('bridge')
      expect(byId.network!.detail).to.match(
        /127.0.0.1:1 becomes host.docker.internal:1 \(with --add-host host.docker.internal:host-gateway\)/,
      )
      expect(byId.disk!.detail).to.match(/the home folder/)
      expect(byId.image!.status).to.equal('warn')
      expect(byId.temporal!.status).to.equal('warn')
      expect(report.exitCode).to.equal(0)
    })

    it('nothing answers at an explicit DOCKER_HOST: exit 11 (installed but not running), whole report still there', async () => {
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {
          DOCKER_HOST: `unix://${join(dir, 'gone.sock')}`,
          TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:1',
        }),
        home: dir,
        platform: 'linux',
        temporalTimeoutMs: 300,
      })
      expect(report.exitCode).to.equal(ExitCode.RUNTIME_UNREACHABLE)
      expect(report.verdict).to.equal('fail')
      expect(report.chosen).to.equal(null)
      expect(report.failure).to.include({code: 'RUNTIME_UNREACHABLE', exit: 11})
      expect(report.checks.map((c) => c.id)).to.include.members([
        'config',
        'engine',
        'engine-info',
        'network',
        'disk',
        'image',
        'workspace',
        'temporal',
      ])
    })

    it('an unknown --runtime: exit 2, engines still listed', async () => {
      const sock = join(dir, 'docker.sock')
      engine = await fakeEngine(sock, {dataRoot: dir})
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {DOCKER_HOST: `unix://${sock}`, TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:1'}),
        flag: 'dockr',
        home: dir,
        platform: 'linux',
        temporalTimeoutMs: 300,
      })
      expect(report.exitCode).to.equal(ExitCode.USAGE)
      expect(report.engines.find((e) => e.usable)).to.include({runtime: 'docker'})
    })

    it('an invalid config file: exit 50, and detection still runs', async () => {
      const sock = join(dir, 'docker.sock')
      engine = await fakeEngine(sock, {dataRoot: dir})
      mkdirSync(join(dir, 'stigmer'))
      writeFileSync(join(dir, 'stigmer', 'config.yaml'), 'netwrk: host\n')
      const {report} = await runDoctor({
        cliVersion: '9.9.9',
        env: isolatedEnv(dir, {DOCKER_HOST: `unix://${sock}`, TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:1'}),
        home: dir,
        platform: 'linux',
        temporalTimeoutMs: 300,
      })
      expect(report.exitCode).to.equal(ExitCode.CONFIG)
      expect(report.checks.find((c) => c.id === 'config')!.detail).to.match(/unknown key "netwrk"/)
      expect(report.chosen).to.include({runtime: 'docker'})
    })
  })
})

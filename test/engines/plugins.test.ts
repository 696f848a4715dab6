/**
 * Plugins, end to end, on Docker and on Podman: the first-party Temporal plugin
 * (plugins/temporal) installed from its packed tarball and linked from its folder, its
 * commands run against the real engines (with a stand-in image that listens where
 * Temporal would: no registry is reachable here), and a fixture plugin that contributes
 * a container runtime (test/fixtures/plugin-runtime: docker-alias) through the
 * stigmer:runtimes hook. Plugins live in a temporary XDG data dir per suite.
 */
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {ContainerRuntime} from '../../src/engine/types.js'

import {canConnect} from '../../src/lib/tcp.js'
import {
  busyboxImage,
  type CliResult,
  ENGINES,
  type EngineName,
  REPO_ROOT,
  requireEngines,
  runCli,
  runtimeFor,
  tempDir,
  useCleanup,
  waitFor,
} from '../helpers/lab.js'
import {engineEnv} from '../helpers/server-images.js'

const PLUGIN_DIR = join(REPO_ROOT, 'plugins', 'temporal')
const RUNTIME_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'plugin-runtime')
const CONTAINER = 'stigmer-temporal'
const PLUGIN = '@stigmer/plugin-temporal'

/**
 * Listens where `temporal server start-dev --port P` would (default 7233), ignoring the
 * other arguments the plugin passes, and exits at once on SIGTERM.
 */
const STANDIN_ENTRYPOINT = [
  '/bin/sh',
  '-c',
  'p=7233; while [ $# -gt 0 ]; do if [ "$1" = --port ]; then p=$2; fi; shift; done; ' +
    'echo "stand-in temporal on $p"; trap "exit 0" TERM INT; httpd -f -p "$p" -h /tmp & wait $!',
  'temporal',
]

const out = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

/** Whether something accepts connections on 127.0.0.1:port. */
const answers = (port: number) => canConnect(`127.0.0.1:${port}`, 500)

/** A TCP port nothing listens on (the default 7233 when it is free). */
async function freePort(preferred: number): Promise<number> {
  if (!(await answers(preferred)) && !(await answers(preferred + 1000))) return preferred
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

let packedPlugin: string

describe('plugins', function () {
  this.timeout(180_000)

  before(function () {
    this.timeout(300_000)
    // The plugin as it would be published: npm pack runs its prepack (tsc + oclif manifest).
    const dest = mkdtempSync(join(tmpdir(), 'stigmer-test-plugin-pack-'))
    const r = spawnSync('npm', ['pack', '--silent', '--pack-destination', dest], {cwd: PLUGIN_DIR, encoding: 'utf8'})
    expect(r.status, `npm pack in plugins/temporal: ${r.stderr}`).to.equal(0)
    const tgz = readdirSync(dest).find((f) => f.endsWith('.tgz'))
    expect(tgz, `no tarball in ${dest}`).to.be.a('string')
    packedPlugin = join(dest, tgz!)
    const list = spawnSync('tar', ['-tzf', packedPlugin], {encoding: 'utf8'}).stdout
    expect(list).to.include('package/oclif.manifest.json').and.include('package/dist/commands/temporal/start.js')
    expect(list).not.to.include('package/src/')
  })

  after(() => {
    if (packedPlugin) rmSync(join(packedPlugin, '..'), {force: true, recursive: true})
  })

  for (const {name: engine} of ENGINES) {
    describe(`on ${engine}`, () => {
      requireEngines([engine])
      useCleanup()

      let runtime: ContainerRuntime
      let standin: string
      let port: number
      let dataHome: string
      let home: string

      /** The CLI against this engine, with this suite's plugin data dir and home. */
      const cli = (args: string[], timeoutMs = 120_000) =>
        runCli(args, {
          env: {
            ...engineEnv(engine as EngineName),
            HOME: home,
            OCLIF_DISABLE_LINKED_ESM_WARNING: '1',
            STIGMER_HOME: join(home, '.stigmer'),
            XDG_DATA_HOME: dataHome,
          },
          timeoutMs,
        })

      const listed = async (): Promise<Array<{name: string; root?: string; type: string}>> => {
        const r = await cli(['plugins', '--json'])
        expect(r.code, out(r)).to.equal(0)
        return (r.json as Array<{name: string; root?: string; type: string}>).filter((p) => p.type !== 'core')
      }

      const removeLeftover = async () => {
        const left = await runtime.inspectContainer(CONTAINER)
        if (left) await runtime.removeContainer(left.id, {force: true})
      }

      before(async function () {
        this.timeout(300_000)
        runtime = runtimeFor(engine)
        standin = await busyboxImage(runtime, {lines: [`ENTRYPOINT ${JSON.stringify(STANDIN_ENTRYPOINT)}`]})
        await removeLeftover()
        port = await freePort(7233)
        if (port !== 7233)
          console.warn(`\nplugins suite: localhost:7233 is taken on this machine; the stand-in uses ${port}.\n`)
        dataHome = tempDir('xdg-data')
        home = tempDir('plugin-home')
      })

      after(async () => {
        await removeLeftover()
      })

      const portFlags = () => (port === 7233 ? [] : ['--port', String(port)])

      /** `stigmer temporal SUB --runtime RUNTIME --json EXTRA...` with this suite's environment. */
      const temporalCli = (sub: 'start' | 'status' | 'stop', extra: string[] = [], runtimeName: string = engine) =>
        cli(['temporal', sub, '--runtime', runtimeName, '--json', ...extra])

      /** `temporal start` of an image (the stand-in by default) on this suite's port. */
      const startTemporal = (extra: string[] = [], image = standin, runtimeName: string = engine) =>
        temporalCli('start', ['--image', image, ...portFlags(), ...extra], runtimeName)

      describe('the Temporal plugin, installed from its packed tarball', () => {
        it('`plugins install file:<tgz>` puts it in the data dir and `plugins --json` lists it', async () => {
          const r = await cli(['plugins', 'install', `file:${packedPlugin}`])
          expect(r.code, out(r)).to.equal(0)
          expect(
            existsSync(join(dataHome, 'stigmer', 'node_modules', '@stigmer', 'plugin-temporal', 'oclif.manifest.json')),
          ).to.equal(true)
          const plugins = await listed()
          expect(plugins.find((p) => p.name === PLUGIN)?.type).to.equal('user')
        })

        it(`\`temporal start --image <stand-in> --runtime ${engine}\`: the port answers on the host`, async () => {
          expect(await answers(port), `something already listens on ${port}`).to.equal(false)
          const r = await startTemporal()
          expect(r.code, out(r)).to.equal(0)
          const result = r.json as {
            address: string
            alreadyRunning: boolean
            image: string
            name: string
            network: string
            runtime: string
          }
          expect(result).to.deep.include({
            address: `localhost:${port}`,
            alreadyRunning: false,
            image: standin,
            name: CONTAINER,
            network: 'host',
            runtime: engine,
          })
          expect(await answers(port), `localhost:${port} answers`).to.equal(true)
          // It runs on the engine it was asked for, with host networking.
          const info = await runtime.inspectContainer(CONTAINER)
          expect(info?.running).to.equal(true)
          expect(info?.network).to.equal('host')
          expect(info?.labels['io.stigmer.plugin']).to.equal('temporal')
        })

        it('`temporal start` again: already running, nothing to do', async () => {
          const before = (await runtime.inspectContainer(CONTAINER))!.id
          const r = await startTemporal()
          expect(r.code, out(r)).to.equal(0)
          expect((r.json as {alreadyRunning: boolean; id: string}).alreadyRunning).to.equal(true)
          expect((await runtime.inspectContainer(CONTAINER))!.id).to.equal(before)
        })

        it('`temporal status --json`: running and answering, exit 0', async () => {
          const r = await temporalCli('status')
          expect(r.code, out(r)).to.equal(0)
          expect(r.json).to.deep.include({
            address: `localhost:${port}`,
            answering: true,
            image: standin,
            running: true,
            runtime: engine,
            state: 'running',
          })
        })

        it('`temporal stop`: the container is gone and the port closed; status then exits 3', async () => {
          const r = await temporalCli('stop')
          expect(r.code, out(r)).to.equal(0)
          expect(r.json).to.deep.include({stopped: true})
          expect(await runtime.inspectContainer(CONTAINER)).to.equal(undefined)
          await waitFor(`localhost:${port} to close`, async () => !(await answers(port)), {timeoutMs: 10_000})
          const status = await temporalCli('status')
          expect(status.code, out(status)).to.equal(3)
          expect(status.json).to.deep.include({running: false, state: 'absent'})
          const again = await temporalCli('stop')
          expect(again.code, out(again)).to.equal(0)
          expect(again.json).to.deep.include({stopped: false})
        })

        it('refuses to start over something else on the port (exit 1, PORT_IN_USE)', async () => {
          const server = net.createServer()
          await new Promise<void>((resolve) => {
            server.listen(port, '127.0.0.1', resolve)
          })
          try {
            const r = await startTemporal()
            expect(r.code, out(r)).to.equal(1)
            expect(r.stdout + r.stderr).to.include('PORT_IN_USE')
            expect(await runtime.inspectContainer(CONTAINER)).to.equal(undefined)
          } finally {
            await new Promise((resolve) => {
              server.close(resolve)
            })
          }
        })

        it('reports a container that exits before its port answers (exit 32, with its last log lines)', async () => {
          const exiting = await busyboxImage(runtime, {
            lines: [`ENTRYPOINT ["/bin/sh", "-c", "echo temporal-standin-crashed-on-purpose; exit 3", "temporal"]`],
          })
          const r = await startTemporal([], exiting)
          expect(r.code, out(r)).to.equal(32)
          expect(r.stdout + r.stderr)
            .to.include('CONTAINER_EXITED')
            .and.include('temporal-standin-crashed-on-purpose')
          await removeLeftover()
        })

        it('`temporal start --network bridge` (what VM engines get): both ports published on 127.0.0.1, and a server answers there', async () => {
          const r = await startTemporal(['--network', 'bridge'])
          expect(r.code, out(r)).to.equal(0)
          expect(r.json).to.deep.include({address: `localhost:${port}`, alreadyRunning: false, network: 'bridge'})
          const info = await runtime.inspectContainer(CONTAINER)
          expect(info?.network).to.not.equal('host')
          expect(await answers(port), `localhost:${port} answers`).to.equal(true)
          const status = await temporalCli('status')
          expect(status.code, out(status)).to.equal(0)
          expect(status.json).to.deep.include({answering: true, running: true})
          // The same again with host networking is a different container: a conflict to resolve, not a silent swap.
          const host = await startTemporal(['--network', 'host'])
          expect(host.code, out(host)).to.equal(2)
          expect(host.stdout + host.stderr).to.include('TEMPORAL_CONFLICT')
          const stop = await temporalCli('stop')
          expect(stop.code, out(stop)).to.equal(0)
          await waitFor(`localhost:${port} to close`, async () => !(await answers(port)), {timeoutMs: 10_000})
        })

        it('`plugins uninstall` removes it: its commands are gone', async () => {
          const r = await cli(['plugins', 'uninstall', PLUGIN])
          expect(r.code, out(r)).to.equal(0)
          expect((await listed()).some((p) => p.name === PLUGIN)).to.equal(false)
          expect(existsSync(join(dataHome, 'stigmer', 'node_modules', '@stigmer', 'plugin-temporal'))).to.equal(false)
          const gone = await cli(['temporal', 'status', '--runtime', engine])
          expect(gone.code, out(gone)).to.equal(2)
          expect(gone.stderr).to.match(/"temporal status" is not a stigmer command|command temporal:status not found/)
        })
      })

      describe('the Temporal plugin, linked from its folder (plugins link)', () => {
        it('`plugins link plugins/temporal` lists it as a link to that folder', async () => {
          const r = await cli(['plugins', 'link', PLUGIN_DIR, '--no-install'])
          expect(r.code, out(r)).to.equal(0)
          const plugin = (await listed()).find((p) => p.name === PLUGIN)
          expect(plugin?.type).to.equal('link')
          expect(plugin?.root).to.equal(PLUGIN_DIR)
        })

        it('its commands run from the folder: start, status, stop', async () => {
          const start = await startTemporal()
          expect(start.code, out(start)).to.equal(0)
          expect(await answers(port)).to.equal(true)
          const status = await temporalCli('status')
          expect(status.code, out(status)).to.equal(0)
          const stop = await temporalCli('stop')
          expect(stop.code, out(stop)).to.equal(0)
          expect(stop.json).to.deep.include({stopped: true})
        })

        it('`plugins unlink` removes it', async () => {
          const r = await cli(['plugins', 'unlink', PLUGIN])
          expect(r.code, out(r)).to.equal(0)
          expect((await listed()).some((p) => p.name === PLUGIN)).to.equal(false)
        })
      })

      if (engine === 'docker') {
        describe('a plugin that contributes a container runtime (stigmer:runtimes hook)', () => {
          before(async function () {
            this.timeout(120_000)
            for (const args of [
              ['plugins', 'install', `file:${packedPlugin}`],
              ['plugins', 'link', RUNTIME_FIXTURE, '--no-install'],
            ]) {
              const r = await cli(args)
              expect(r.code, out(r)).to.equal(0)
            }
          })

          after(async function () {
            this.timeout(120_000)
            await cli(['plugins', 'unlink', 'stigmer-plugin-docker-alias'])
            await cli(['plugins', 'uninstall', PLUGIN])
          })

          it('`--runtime docker-alias` selects it, and the plugin commands run through it', async () => {
            const start = await startTemporal([], standin, 'docker-alias')
            expect(start.code, out(start)).to.equal(0)
            expect((start.json as {runtime: string}).runtime).to.equal('docker-alias')
            expect(await answers(port)).to.equal(true)
            const status = await temporalCli('status', [], 'docker-alias')
            expect(status.json).to.deep.include({answering: true, runtime: 'docker-alias'})
            const stop = await temporalCli('stop', [], 'docker-alias')
            expect(stop.json).to.deep.include({runtime: 'docker-alias', stopped: true})
          })

          it('an unknown --runtime names it among the choices', async () => {
            const r = await cli(['temporal', 'status', '--runtime', 'nope'])
            expect(r.code, out(r)).to.equal(2)
            expect(r.stderr).to.match(/Use one of: docker, podman, docker-alias/)
          })

          it('without the plugin, docker-alias is unknown', async () => {
            await cli(['plugins', 'unlink', 'stigmer-plugin-docker-alias'])
            const r = await cli(['temporal', 'status', '--runtime', 'docker-alias'])
            expect(r.code, out(r)).to.equal(2)
            expect(r.stderr).to.match(/Unknown container runtime "docker-alias"/)
          })
        })
      }
    })
  }
})

import {Config} from '@oclif/core'
import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import Version, {type VersionResult} from '../../../src/commands/version.js'
import {runDoctor} from '../../../src/doctor/doctor.js'
import {chooseEngine, runtimeProviders, selectRuntime} from '../../../src/engine/choose.js'
import {rememberedEngine} from '../../../src/server/state.js'
import {fakeMachine} from './detection/fake-machine.js'

/**
 * An engine added the way a plugin adds one (a `stigmer:runtimes` hook in a linked plugin,
 * test/fixtures/plugin-fake-engine), and the one engine decision: what `server start` uses
 * (selectRuntime), `version` and `doctor` all see it and agree on it.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const PLUGIN = join(ROOT, 'test', 'fixtures', 'plugin-fake-engine')

/** The Engine API answers `version` and detection ask for: /_ping and /version. */
async function fakeEngineApi(socketPath: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '').replace(/^\/v\d+\.\d+/, '')
    if (url === '/_ping') {
      res.writeHead(200, {'Api-Version': '1.0', 'Content-Type': 'text/plain'})
      res.end('OK')
    } else if (url === '/version') {
      res.writeHead(200, {'Content-Type': 'application/json'})
      res.end(JSON.stringify({ApiVersion: '1.0', Platform: {Name: 'Fake Engine'}, Version: '1.2.3'}))
    } else {
      res.writeHead(404, {'Content-Type': 'application/json'})
      res.end(JSON.stringify({message: 'not here'}))
    }
  })
  await new Promise<void>((resolve) => {
    server.listen(socketPath, resolve)
  })
  return server
}

describe('one engine decision, with an engine a plugin adds', () => {
  let dir: string
  let socket: string
  let server: Server
  let config: Config
  const saved = {...process.env}

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-engine-choice-'))
    socket = join(dir, 'fake.sock')
    server = await fakeEngineApi(socket)
    // The plugin is linked in the data dir, as `stigmer plugins link` leaves it.
    const dataDir = join(dir, 'data')
    mkdirSync(dataDir)
    writeFileSync(
      join(dataDir, 'package.json'),
      JSON.stringify({
        oclif: {plugins: [{name: 'stigmer-plugin-fake-engine', root: PLUGIN, type: 'link'}], schema: 1},
        private: true,
      }),
    )
    process.env.STIGMER_DATA_DIR = dataDir
    // The fixture is plain JavaScript: nothing for oclif to transpile, nothing to warn about.
    process.env.OCLIF_DISABLE_LINKED_ESM_WARNING = '1'
    config = await Config.load({root: ROOT})
  })

  after(async () => {
    process.env = saved
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
    })
    rmSync(dir, {force: true, recursive: true})
  })

  /** A machine whose only engine is the plugin's: no Docker, no Podman, no binaries. */
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    HOME: dir,
    PATH: '',
    STIGMER_HOME: join(dir, 'stigmer'),
    STIGMER_TEST_FAKE_ENGINE_SOCKET: socket,
    TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:1',
    ...extra,
  })

  it('the plugin route adds the provider after the built-in ones', async () => {
    const names = (await runtimeProviders(config)).map((p) => p.name)
    expect(names).to.deep.equal(['docker', 'podman', 'fakeengine'])
  })

  it('detection picks it when no built-in engine answers, and says a plugin runtime was chosen', async () => {
    const decision = await chooseEngine({
      allowSpawn: false,
      config,
      env: env(),
      machine: fakeMachine({env: env(), paths: [socket]}),
    })
    expect(decision.provider?.name).to.equal('fakeengine')
    expect(decision.detection.chosen?.candidate.endpoint.url).to.equal(`unix://${socket}`)
    expect(decision.reason).to.deep.equal({kind: 'plugin', plugin: 'stigmer-plugin-fake-engine'})
  })

  it('server start (selectRuntime), version and doctor choose the same engine at the same endpoint', async () => {
    const chosenBy = env({STIGMER_CONTAINER_RUNTIME: 'fakeengine'})
    // What server start uses: the prerun hook and the command go through getRuntime -> selectRuntime.
    const start = await selectRuntime({allowSpawn: false, config, env: chosenBy, remembered: rememberedEngine})
    expect(start.runtime.name).to.equal('fakeengine')
    expect(start.reason).to.deep.equal({kind: 'env', variable: 'STIGMER_CONTAINER_RUNTIME'})
    const endpoint = start.detection.chosen!.candidate.endpoint.url

    // version reads the process environment.
    process.env = {...saved, ...chosenBy, OCLIF_DISABLE_LINKED_ESM_WARNING: '1'}
    let printed = ''
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string) => {
      printed += chunk
      return true
    }) as typeof process.stdout.write
    let version: VersionResult
    try {
      version = (await Version.run(['--json'], config)) as VersionResult
    } finally {
      process.stdout.write = write
      process.env = {...saved, OCLIF_DISABLE_LINKED_ESM_WARNING: '1', STIGMER_DATA_DIR: join(dir, 'data')}
    }

    expect(version.engine).to.deep.include({endpoint, product: 'Fake Engine', runtime: 'fakeengine', version: '1.2.3'})
    expect(JSON.parse(printed).engine.runtime).to.equal('fakeengine')

    const {report} = await runDoctor({cliVersion: '9.9.9', env: chosenBy, home: dir, oclifConfig: config})
    expect(report.chosen).to.deep.include({
      choiceSource: 'STIGMER_CONTAINER_RUNTIME',
      displayName: 'Fake Engine',
      endpoint,
      runtime: 'fakeengine',
    })
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]))
    expect(byId.engine!.detail).to.equal(
      `Fake Engine at ${endpoint} (fake engine socket), chosen by STIGMER_CONTAINER_RUNTIME`,
    )
    expect(byId['engine-info']!.detail).to.match(/^Fake Engine 1\.2\.3/)
    // Its own CLI is looked for, as Docker's and Podman's are.
    expect(report.installed).to.have.property('fakectl', null)
  })
})

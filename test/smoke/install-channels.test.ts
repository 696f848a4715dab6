/**
 * Smoke tests for the ways the CLI is installed and extended, without packing a tarball
 * (test/engines/tarball.test.ts does that):
 *
 * - an install path with a space and a non-ASCII letter (bin/run.js once took its root from
 *   URL#pathname, percent-encoded);
 * - a plugin command started the way a tarball or Homebrew install starts the CLI
 *   (`node bin/run`, no `.js`: process.argv[1] names no file) and through a shim outside the
 *   CLI: the plugin must find its host from oclif's config.root, not from argv;
 * - `plugins install <short name>` only ever asks for @stigmer/plugin-<name> (a local fake
 *   registry records what npm asked for), and fails with stigmer's error and exit code;
 * - `--help`'s fast path once a plugin was installed and uninstalled.
 */
import {expect} from 'chai'
import {spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {type AddressInfo} from 'node:net'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {type CliResult, CLI_BIN, REPO_ROOT, runCli, tempDir} from '../helpers/lab.js'

const PLUGIN_DIR = join(REPO_ROOT, 'plugins', 'temporal')
const PJSON = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {name: string; version: string}

const show = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

interface Env {
  dataHome: string
  home: string
}

function freshEnv(): Env {
  return {dataHome: tempDir('xdg-data'), home: tempDir('home')}
}

/** `node ENTRY ...args` with a private home and data dir, no engine, no mocha loader. */
function node(entry: string, args: readonly string[], env: Env, extra: Record<string, string> = {}) {
  const base: Record<string, string | undefined> = {...process.env}
  delete base.NODE_OPTIONS
  delete base.DEBUG
  return spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    env: {
      ...base,
      // no engine answers here: a command that needs one stops in the prerun hook (exit 10/11)
      DOCKER_HOST: `unix://${join(env.home, 'no-docker.sock')}`,
      HOME: env.home,
      OCLIF_DISABLE_LINKED_ESM_WARNING: '1',
      STIGMER_HOME: join(env.home, '.stigmer'),
      XDG_DATA_HOME: env.dataHome,
      ...extra,
    } as NodeJS.ProcessEnv,
    timeout: 120_000,
  })
}

/** The built plugin's dist/ (tsc only: a linked plugin needs no manifest). */
function buildPlugin(): void {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', PLUGIN_DIR], {encoding: 'utf8', timeout: 120_000})
  expect(r.status, `tsc -p plugins/temporal:\n${r.stdout}${r.stderr}`).to.equal(0)
}

/** `temporal status` ran: the plugin's command loaded and stigmer's prerun hook stopped it for want of an engine. */
function expectPluginCommandRan(r: SpawnSyncReturns<string>): void {
  expect(r.stderr, show(r)).not.to.match(/Cannot find package|ModuleLoadError|is not a stigmer command/)
  expect([10, 11], show(r)).to.include(r.status)
  const body = JSON.parse(r.stdout) as {error: {code: string; exit: number}}
  expect(body.error.exit).to.equal(r.status)
  expect(['NO_RUNTIME', 'RUNTIME_UNREACHABLE']).to.include(body.error.code)
}

describe('smoke: install channels', function () {
  this.timeout(180_000)

  describe('an install path with a space and a non-ASCII letter', () => {
    let root: string
    let entry: string

    before(() => {
      // The CLI as a tarball lays it out (bin, dist, package.json, manifest), its
      // dependencies linked from the repository.
      root = join(tempDir('install'), 'space dir ü', 'stigmer')
      mkdirSync(root, {recursive: true})
      const parts = ['bin', 'dist', 'package.json', 'oclif.manifest.json'].map((p) => join(REPO_ROOT, p))
      const copy = spawnSync('cp', ['-a', ...parts, root], {encoding: 'utf8'})
      expect(copy.status, copy.stderr).to.equal(0)

      symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'))
      entry = join(root, 'bin', 'run.js')
    })

    it('--version (the fast path) prints the version', () => {
      const r = node(entry, ['--version'], freshEnv())
      expect(r.status, show(r)).to.equal(0)
      expect(r.stdout).to.include(`${PJSON.name}/${PJSON.version}`)
    })

    it('--help (the fast path) prints the help', () => {
      const r = node(entry, ['--help'], freshEnv())
      expect(r.status, show(r)).to.equal(0)
      expect(r.stdout).to.include('TOPICS').and.include('server')
    })

    it('version --json runs through oclif from that folder', () => {
      const r = node(entry, ['version', '--json'], freshEnv())
      expect(r.status, show(r)).to.equal(0)
      expect((JSON.parse(r.stdout) as {cli: string}).cli).to.equal(PJSON.version)
    })

    it('a plugin command finds this CLI as its host', () => {
      buildPlugin()
      const env = freshEnv()
      const link = node(entry, ['plugins', 'link', PLUGIN_DIR, '--no-install'], env)
      expect(link.status, show(link)).to.equal(0)
      expectPluginCommandRan(node(entry, ['temporal', 'status', '--runtime', 'docker', '--json'], env))
    })
  })

  describe('a plugin finds its host from oclif config.root, not from argv', () => {
    let env: Env

    before(() => {
      buildPlugin()
      env = freshEnv()
      const link = node(CLI_BIN, ['plugins', 'link', PLUGIN_DIR, '--no-install'], env)
      expect(link.status, show(link)).to.equal(0)
    })

    it('started as a tarball starts it: `node bin/run` (argv[1] names no file)', () => {
      const entry = join(REPO_ROOT, 'bin', 'run')
      expect(existsSync(entry), 'bin/run must not exist for this test to mean anything').to.equal(false)
      expectPluginCommandRan(node(entry, ['temporal', 'status', '--runtime', 'docker', '--json'], env))
    })

    it('started through a shim outside the CLI (argv[1] is the shim)', () => {
      const shim = join(tempDir('shim'), 'stigmer.mjs')
      writeFileSync(shim, `await import(${JSON.stringify(pathToFileURL(CLI_BIN).href)})\n`)
      expectPluginCommandRan(node(shim, ['temporal', 'status', '--runtime', 'docker', '--json'], env))
    })
  })

  describe('plugins install <short name>', () => {
    let server: Server
    let registry: string
    const asked: string[] = []

    before(async () => {
      // A registry that has nothing: every package document is a 404.
      server = createServer((req, res) => {
        asked.push(decodeURIComponent(req.url ?? ''))
        res.writeHead(404, {'content-type': 'application/json'})
        res.end('{"error":"Not found"}')
      })
      await new Promise<void>((resolve) => {
        server.listen(0, '127.0.0.1', resolve)
      })
      registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    })

    after(async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
      })
    })

    beforeEach(() => {
      asked.length = 0
    })

    /** Spawned without blocking: the fake registry answers from this process. */
    const install = (args: string[], env: Env) =>
      runCli(['plugins', 'install', ...args], {
        env: {HOME: env.home, STIGMER_NPM_REGISTRY: registry, XDG_DATA_HOME: env.dataHome},
        timeoutMs: 120_000,
      })
    const shown = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

    it('asks only for @stigmer/plugin-<name>, never the bare name, and leaves nothing installed', async () => {
      const env = freshEnv()
      const r = await install(['temporal', '--json'], env)
      expect(r.code, shown(r)).to.equal(60)
      const body = r.json as {error: {code: string; exit: number; message: string; suggestions: string[]}}
      expect(body.error).to.deep.include({code: 'PLUGIN_NOT_FOUND', exit: 60})
      expect(body.error.message).to.include('@stigmer/plugin-temporal')
      expect(body.error.suggestions.join('\n')).to.match(/full npm name/)
      expect(asked.length, 'npm asked the registry something').to.be.greaterThan(0)
      for (const path of asked)
        expect(path, 'what npm asked the registry for').to.match(/^\/@stigmer\/plugin-temporal\b/)
      expect(existsSync(join(env.dataHome, 'stigmer', 'node_modules', 'temporal'))).to.equal(false)
    })

    it('renders the failure as stigmer does, with the exit-code line', async () => {
      const r = await install(['temporal@0.1.0'], freshEnv())
      expect(r.code, shown(r)).to.equal(60)
      expect(r.stderr).to.include('Error: No stigmer plugin "temporal@0.1.0"')
      expect(r.stderr).to.include('Try this:')
      expect(r.stderr).to.include('(exit code 60: PLUGIN_NOT_FOUND; see docs/exit-codes.md)')
    })

    it('refuses a name that is not a package name before asking npm (exit 2)', async () => {
      const r = await install(['Not A Name', '--json'], freshEnv())
      expect(r.code, shown(r)).to.equal(2)
      expect((r.json as {error: {code: string}}).error.code).to.equal('USAGE')
      expect(asked).to.deep.equal([])
    })
  })

  describe('--help fast path', () => {
    /** Under DEBUG=oclif*, oclif logs on stderr as soon as it loads; the fast path prints nothing there. */
    const usedOclif = (env: Env) => {
      const r = node(CLI_BIN, ['--help'], env, {DEBUG: 'oclif*'})
      expect(r.status, show(r)).to.equal(0)
      expect(r.stdout).to.include('TOPICS')
      return r.stderr.includes('oclif')
    }

    it('is taken with no data dir, and after the last plugin was uninstalled (package.json stays)', () => {
      const env = freshEnv()
      expect(usedOclif(env), 'no data dir').to.equal(false)
      buildPlugin()
      expect(node(CLI_BIN, ['plugins', 'link', PLUGIN_DIR, '--no-install'], env).status).to.equal(0)
      expect(usedOclif(env), 'a plugin is linked: its commands must be listed').to.equal(true)
      const unlink = node(CLI_BIN, ['plugins', 'unlink', '@stigmer/plugin-temporal'], env)
      expect(unlink.status, show(unlink)).to.equal(0)
      expect(existsSync(join(env.dataHome, 'stigmer', 'package.json')), 'left behind by uninstall').to.equal(true)
      expect(usedOclif(env), 'after uninstall').to.equal(false)
    })
  })
})

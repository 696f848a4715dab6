/**
 * Smoke tests for `stigmer doctor`: spawn the built CLI (`npx tsc -p .` first)
 * and read its JSON and exit code.
 *
 * - On the lab machine (scripts/lab.sh: Docker at /var/run/docker.sock, rootful
 *   Podman at /run/podman/podman.sock) both engines are listed as usable.
 * - With no engine at all (a private mount namespace where the engine sockets'
 *   folders are empty tmpfs mounts, and a PATH with only node on it) doctor
 *   exits 10 and says how to install one, in JSON and in text.
 */

import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = join(root, 'bin', 'run.js')
const LAB_SOCKETS = {docker: '/var/run/docker.sock', podman: '/run/podman/podman.sock'}

interface Doctor {
  checks: Array<{detail: string; hint?: string; id: string; status: string; title: string}>
  chosen: null | {runtime: string}
  engines: Array<{endpoint: string; identifiedAs?: string; runtime: string; state: string; usable: boolean}>
  exitCode: number
  failure?: {code: string; suggestions: string[]}
  verdict: string
}

function assertBuilt(): void {
  if (!existsSync(join(root, 'dist', 'commands', 'doctor.js')))
    throw new Error('dist/commands/doctor.js is missing: build first (npx tsc -p .)')
  const manifest = join(root, 'oclif.manifest.json')
  if (
    existsSync(manifest) &&
    !(JSON.parse(readFileSync(manifest, 'utf8')) as {commands: Record<string, unknown>}).commands.doctor
  ) {
    throw new Error('oclif.manifest.json is stale (no doctor command): run `npx oclif manifest` or remove it')
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => {
    setTimeout(r, ms)
  })
}

/** The folders to hide so that no engine socket can be found: the real folders of the lab sockets, outermost only. */
function foldersToHide(sockets: readonly string[]): string[] {
  const dirs = sockets
    .map((s) => {
      let d = dirname(s)
      while (!existsSync(d) && dirname(d) !== d) d = dirname(d)
      return realpathSync(d)
    })
    .sort((a, b) => a.length - b.length)
  const out: string[] = []
  for (const d of dirs) if (!out.some((o) => d === o || d.startsWith(o + sep))) out.push(d)
  return out
}

/** unshare -m as root; unshare -rm (a user namespace) otherwise. undefined when neither works here. */
function unshareArgs(): string[] | undefined {
  if (process.platform !== 'linux') return undefined
  for (const args of process.getuid?.() === 0 ? [['-m'], ['-rm']] : [['-rm']]) {
    const probe = spawnSync(
      'unshare',
      [...args, 'sh', '-c', 'mount -t tmpfs none /mnt 2>/dev/null || mount -t tmpfs none /tmp'],
      {encoding: 'utf8', timeout: 10_000},
    )
    if (probe.status === 0) return args
  }

  return undefined
}

describe('smoke: stigmer doctor', function () {
  this.timeout(60_000)
  let dir: string

  before(() => assertBuilt())

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-doctor-smoke-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  it('on the lab machine lists Docker and Podman as usable, exit 0, in under 5 s', async function () {
    // scripts/lab.sh starts both engines; under CI give it a minute to finish.
    const deadline = Date.now() + (process.env.CI ? 60_000 : 0)
    while (!(existsSync(LAB_SOCKETS.docker) && existsSync(LAB_SOCKETS.podman)) && Date.now() < deadline)
      await sleep(1000)
    if (!(existsSync(LAB_SOCKETS.docker) && existsSync(LAB_SOCKETS.podman))) {
      if (process.env.CI)
        throw new Error(
          `the lab's engine sockets (${Object.values(LAB_SOCKETS).join(', ')}) are not there: run scripts/lab.sh`,
        )
      this.skip()
    }

    const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', STIGMER_HOME: join(dir, 'stigmer')}
    for (const v of ['STIGMER_CONTAINER_RUNTIME', 'DOCKER_HOST', 'CONTAINER_HOST', 'DOCKER_CONTEXT']) delete env[v]
    const started = Date.now()
    const run = spawnSync(process.execPath, [bin, 'doctor', '--json'], {
      cwd: root,
      encoding: 'utf8',
      env,
      timeout: 30_000,
    })
    const ms = Date.now() - started
    expect(run.status, run.stderr + run.stdout).to.equal(0)
    const doc = JSON.parse(run.stdout) as Doctor
    const usable = (name: string) => doc.engines.filter((e) => e.usable && (e.identifiedAs ?? e.runtime) === name)
    expect(usable('docker'), JSON.stringify(doc.engines, null, 2)).to.have.length.greaterThan(0)
    expect(usable('podman'), JSON.stringify(doc.engines, null, 2)).to.have.length.greaterThan(0)
    expect(doc.engines.find((e) => e.endpoint === `unix://${LAB_SOCKETS.podman}`)).to.include({usable: true})
    expect(doc.chosen).to.include({runtime: 'docker'})
    expect(doc.verdict).to.not.equal('fail')
    expect(doc.exitCode).to.equal(0)
    for (const id of ['config', 'engine', 'engine-info', 'network', 'disk', 'image', 'workspace', 'temporal']) {
      expect(doc.checks.map((c) => c.id)).to.include(id)
    }

    expect(doc.checks.find((c) => c.id === 'engine-info')!.status).to.equal('ok')
    expect(ms, `doctor --json took ${ms} ms`).to.be.below(5000)
    // doctor writes nothing it leaves behind: the workspace it was asked about was not created.
    expect(existsSync(join(dir, 'stigmer', 'data', 'workspace'))).to.equal(false)
  })

  describe('with no engine anywhere', () => {
    let unshare: string[] | undefined

    before(function () {
      unshare = unshareArgs()
      if (!unshare) {
        if (process.env.CI && process.platform === 'linux')
          throw new Error('cannot create a mount namespace (unshare -m / -rm) for the no-engine case')
        this.skip()
      }
    })

    function runWithoutEngines(args: string[]) {
      const binDir = join(dir, 'bin')
      mkdirSync(binDir)
      symlinkSync(process.execPath, join(binDir, 'node'))
      const hide = foldersToHide(Object.values(LAB_SOCKETS))
      const script = [
        ...hide.map((d) => `mount -t tmpfs none '${d}'`),
        `exec env -i HOME="$D/home" STIGMER_HOME="$D/stigmer" PATH="$D/bin" "$D/bin/node" "$BIN" "$@"`,
      ].join(' && ')
      return spawnSync('unshare', [...unshare!, 'sh', '-c', script, 'sh', ...args], {
        cwd: root,
        encoding: 'utf8',
        env: {BIN: bin, D: dir, PATH: process.env.PATH},
        timeout: 30_000,
      })
    }

    it('--json: exits 10 (NO_RUNTIME) with the whole report and how to install an engine', () => {
      mkdirSync(join(dir, 'home'))
      const run = runWithoutEngines(['doctor', '--json'])
      expect(run.status, run.stderr + run.stdout).to.equal(10)
      const doc = JSON.parse(run.stdout) as Doctor
      expect(doc.exitCode).to.equal(10)
      expect(doc.verdict).to.equal('fail')
      expect(doc.chosen).to.equal(null)
      expect(doc.engines.length).to.be.greaterThan(0)
      expect(
        doc.engines.every((e) => !e.usable && e.state === 'absent'),
        JSON.stringify(doc.engines, null, 2),
      ).to.equal(true)
      expect(doc.failure!.code).to.equal('NO_RUNTIME')
      const how = doc.failure!.suggestions.join('\n')
      expect(how).to.match(/apt install podman/)
      expect(how).to.match(/dnf install podman/)
      expect(how).to.match(/https:\/\/docs\.docker\.com\//)
      const engine = doc.checks.find((c) => c.id === 'engine')!
      expect(engine.status).to.equal('fail')
      expect(engine.hint).to.match(/apt install podman/)
      // The rest of the report is still there.
      for (const id of ['config', 'network', 'disk', 'image', 'workspace', 'temporal'])
        expect(doc.checks.map((c) => c.id)).to.include(id)
    })

    it('text: exits 10 and says how to install one', () => {
      mkdirSync(join(dir, 'home'))
      const run = runWithoutEngines(['doctor'])
      expect(run.status, run.stderr + run.stdout).to.equal(10)
      expect(run.stdout).to.match(/^ {2}fail +Container engine +No container engine found/m)
      expect(run.stdout).to.match(/Verdict: fail .*exit code 10/)
      expect(run.stdout).to.match(/Try this:\n(?: {2}- .*\n)*.*sudo apt install podman/)
      expect(run.stdout).to.match(/sudo dnf install podman/)
      expect(run.stdout.includes('\u001B['), 'no colour without a TTY').to.equal(false)
    })
  })
})

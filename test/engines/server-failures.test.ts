/**
 * `stigmer server start` when things go wrong, and when several things
 * happen at once, against the real engines: a crashing container, one that
 * never becomes healthy, an image missing everywhere, --use-local-image,
 * two concurrent starts, Ctrl-C during the pull and during the readiness
 * wait, and the workspace of a non-root host user across stop/start and an
 * image upgrade.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import type {ContainerRuntime} from '../../src/engine/types.js'

import {
  CLI_BIN,
  ENGINES,
  IN_CI,
  loadLab,
  requireEngines,
  runCli,
  sleep,
  stigmerHome,
  tempDir,
  uniqueName,
  useCleanup,
  chownToUser,
} from '../helpers/lab.js'
import {
  atEnd,
  clearManagedContainer,
  engineEnv,
  engineRuntime,
  type FixtureImages,
  fixtureImages,
  useLabTemporal,
  labRegistry,
  loginToLab,
  MANAGED_NAME,
  pushToLab,
  socketUsableBy,
  startCli,
  throttledRegistry,
  uniqueLayerImage,
  userIds,
} from '../helpers/server-images.js'

/** The tag `stigmer image build` gives the development image (src/lib/image-ref.ts). */
const LOCAL_DEV_IMAGE = 'localhost/stigmer/agent-runner:dev'

interface StartJson {
  status: string
  containerId: string
  image: string
  health: string
}

function lockLeft(home: string): boolean {
  return existsSync(join(home, 'state', 'server.lock'))
}

/** What a failed run said: its stderr, and stdout (where --json puts the error). */
function out(result: {stderr: string; stdout: string}): string {
  return `${result.stderr}\n${result.stdout}`
}

for (const {name: engine} of ENGINES) {
  describe(`stigmer server start on ${engine}: failures, concurrency, Ctrl-C, a non-root user`, function () {
    useLabTemporal()
    this.timeout(180_000)
    requireEngines([engine])
    useCleanup()

    let runtime: ContainerRuntime
    let images: FixtureImages

    before(async function () {
      this.timeout(600_000)
      runtime = engineRuntime(engine)
      images = await fixtureImages(engine)
      await clearManagedContainer(engine, 30_000)
    })

    afterEach(async () => {
      await clearManagedContainer(engine)
    })

    const cli = (home: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 150_000) =>
      runCli(args, {env: {...engineEnv(engine), STIGMER_HOME: home, ...env}, timeoutMs})

    const start = (home: string, extra: string[] = [], env: Record<string, string | undefined> = {}) =>
      cli(home, ['server', 'start', '--runtime', engine, '--image', images.v1, ...extra], env)

    async function noContainerLeft(): Promise<void> {
      expect(await runtime.inspectContainer(MANAGED_NAME), `a ${MANAGED_NAME} container was left behind`).to.equal(
        undefined,
      )
    }

    it('a container that crashes at once: exit 32 long before the timeout, with its last log lines; nothing left', async () => {
      const home = stigmerHome()
      const result = await start(home, ['--env', 'FIXTURE_CRASH=1', '--timeout', '120'])
      expect(result.code, out(result)).to.equal(32)
      expect(result.ms, 'it failed fast, not at the timeout').to.be.lessThan(30_000)
      expect(result.stderr).to.match(/exited/)
      expect(result.stderr).to.include('fixture: crashing on purpose')
      expect(result.stderr).to.match(/Last 50 log lines/)
      await noContainerLeft()
      expect(lockLeft(home)).to.equal(false)
    })

    it('a container that never becomes healthy: exit 31 at --timeout, with the last probe output; nothing left', async () => {
      const home = stigmerHome()
      const result = await start(home, ['--env', 'FIXTURE_NEVER_READY=1', '--timeout', '6'])
      expect(result.code, out(result)).to.equal(31)
      expect(result.ms).to.be.greaterThan(6000)
      expect(result.ms).to.be.lessThan(40_000)
      expect(result.stderr).to.match(/did not become ready within 6 s/)
      expect(result.stderr).to.include('not ready: no connection to localhost:7233')
      await noContainerLeft()
    })

    it('an image missing everywhere: exit 20 naming the image and the manual pull command', async () => {
      const home = stigmerHome()
      const {env} = await loginToLab(engine)
      const ref = `${labRegistry().host}/${uniqueName('missing')}/agent-runner:v9.9.9`
      const result = await cli(home, ['server', 'start', '--runtime', engine, '--image', ref], env)
      expect(result.code, out(result)).to.equal(20)
      expect(result.stderr).to.include(ref)
      expect(result.stderr).to.include(`${engine} pull ${ref}`)
      await noContainerLeft()
    })

    it('--use-local-image: a clear error naming `stigmer image build` when absent (exit 20); runs it when present', async () => {
      // The dev tag is shared with `image build`: keep what is there and put it back afterwards.
      const backup = `localhost/${uniqueName('dev-backup')}/agent-runner:dev`
      const had = await runtime.imageExists(LOCAL_DEV_IMAGE)
      if (had) await runtime.tagImage(LOCAL_DEV_IMAGE, backup)
      const restore = async () => {
        await runtime.removeImage(LOCAL_DEV_IMAGE, {force: true}).catch(() => {})
        if (had) {
          await runtime.tagImage(backup, LOCAL_DEV_IMAGE)
          await runtime.removeImage(backup).catch(() => {})
        }
      }

      try {
        if (had) await runtime.removeImage(LOCAL_DEV_IMAGE)
        const home = stigmerHome()
        const absent = await cli(home, ['server', 'start', '--runtime', engine, '--use-local-image'])
        expect(absent.code, out(absent)).to.equal(20)
        expect(absent.stderr).to.include(LOCAL_DEV_IMAGE)
        expect(absent.stderr).to.include('stigmer image build')
        await noContainerLeft()
        await runtime.tagImage(images.v1, LOCAL_DEV_IMAGE)
        const present = await cli(home, ['server', 'start', '--runtime', engine, '--use-local-image', '--json'])
        expect(present.code, out(present)).to.equal(0)
        expect(present.json as StartJson).to.include({health: 'healthy', image: LOCAL_DEV_IMAGE, status: 'started'})
      } finally {
        await clearManagedContainer(engine)
        await restore()
      }
    })

    it('two starts at the same time: both exit 0, one container, no name conflict', async () => {
      const home = stigmerHome()
      const [a, b] = await Promise.all([start(home, ['--json']), start(home, ['--json'])])
      expect(a.code, out(a)).to.equal(0)
      expect(b.code, out(b)).to.equal(0)
      const [ja, jb] = [a.json as StartJson, b.json as StartJson]
      expect([ja.status, jb.status].sort()).to.deep.equal(['already-running', 'started'])
      expect(ja.containerId).to.equal(jb.containerId)
      expect(`${a.stderr}${b.stderr}`).to.not.match(/conflict|already in use/i)
      const managed = await runtime.listContainers({labels: {'io.stigmer.managed': 'true'}})
      expect(managed.filter((c) => c.name === MANAGED_NAME).map((c) => c.id)).to.deep.equal([ja.containerId])
    })

    it('Ctrl-C during the pull: exit 130, no container, no lock; the next start works', async function () {
      this.timeout(300_000)
      // An image with a layer nobody has (16 MB of random bytes), behind a proxy that sends 256 kB/s.
      const local = await uniqueLayerImage(engine, 16 * 1024 * 1024)
      const path = `${uniqueName('slow')}/agent-runner:v1`
      const pushed = await pushToLab(engine, local, path)
      await runtime.removeImage(pushed, {force: true})
      await runtime.removeImage(local, {force: true})
      const proxy = await throttledRegistry(256 * 1024)
      const ref = `${proxy.host}/${path}`
      atEnd(async () => {
        await runtime.removeImage(ref, {force: true}).catch(() => {})
      })
      const {env} = await loginToLab(engine, [proxy.host])
      const home = stigmerHome()
      const startEnv = {...engineEnv(engine), ...env, STIGMER_HOME: home}
      const child = startCli(['server', 'start', '--runtime', engine, '--image', ref], {
        env: startEnv,
        timeoutMs: 120_000,
      })
      await child.waitForOutput(/One-time setup: downloading/, 60_000)
      const deadline = Date.now() + 20_000
      while (proxy.sent() < 512 * 1024 && Date.now() < deadline) await sleep(100)
      expect(proxy.sent(), 'the pull was under way').to.be.greaterThan(256 * 1024)
      const interruptedAt = Date.now()
      child.signal('SIGINT')
      const result = await child.done
      expect(result.code, out(result)).to.equal(130)
      expect(Date.now() - interruptedAt, 'it stopped soon after Ctrl-C').to.be.lessThan(15_000)
      expect(result.stderr).to.match(/Interrupted/)
      await noContainerLeft()
      expect(lockLeft(home)).to.equal(false)
      const sentAtExit = proxy.sent()
      await sleep(3000)
      // The engine stopped downloading too (at 256 kB/s, 3 s more would be 768 kB; a buffer's worth may trail).
      expect(proxy.sent() - sentAtExit, 'bytes the engine still fetched after Ctrl-C').to.be.lessThan(256 * 1024)
      // The next start (the registry at full speed again) pulls and runs it.
      proxy.setRate(Number.POSITIVE_INFINITY)
      const next = await cli(home, ['server', 'start', '--runtime', engine, '--image', ref, '--json'], env)
      expect(next.code, out(next)).to.equal(0)
      expect(next.json as StartJson).to.include({health: 'healthy', image: ref, status: 'started'})
      await proxy.close()
    })

    it('Ctrl-C while waiting for readiness: exit 130, no container, no lock; the next start works', async () => {
      const home = stigmerHome()
      const child = startCli(
        [
          'server',
          'start',
          '--runtime',
          engine,
          '--image',
          images.v1,
          '--env',
          'FIXTURE_NEVER_READY=1',
          '--timeout',
          '120',
        ],
        {
          env: {...engineEnv(engine), STIGMER_HOME: home},
        },
      )
      await child.waitForOutput(/Wait until ready/, 60_000)
      await sleep(1000)
      expect(await runtime.inspectContainer(MANAGED_NAME), 'the container exists while it waits').to.not.equal(
        undefined,
      )
      const interruptedAt = Date.now()
      child.signal('SIGINT')
      const result = await child.done
      expect(result.code, out(result)).to.equal(130)
      expect(Date.now() - interruptedAt).to.be.lessThan(15_000)
      await noContainerLeft()
      expect(lockLeft(home)).to.equal(false)
      const next = await start(home, ['--json'])
      expect(next.code, out(next)).to.equal(0)
      expect((next.json as StartJson).status).to.equal('started')
    })

    it('on a terminal (the live task list): Ctrl-C while waiting for readiness still cleans up: exit 130, no container, no lock', async () => {
      const home = stigmerHome()
      const dir = tempDir('tty')
      const args = ['server', 'start', '--runtime', engine, '--image', images.v1, '--env', 'FIXTURE_NEVER_READY=1']
      // stderr on a real pseudo-terminal (util-linux script, 100x30), stdout in a file.
      const command = `stty cols 100 rows 30; echo $$ > ${dir}/pid; exec ${process.execPath} ${CLI_BIN} ${args.join(' ')} > ${dir}/stdout`
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        env: {...process.env, ...engineEnv(engine), STIGMER_HOME: home, TERM: 'xterm-256color'},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      atEnd(() => {
        child.kill('SIGKILL')
      })
      let tty = ''
      child.stdout.on('data', (chunk: Buffer) => {
        tty += chunk.toString()
      })
      const exited = new Promise<number | null>((resolve) => {
        child.on('close', (code) => resolve(code))
      })
      const deadline = Date.now() + 60_000
      while (!/Wait until ready/.test(tty) && Date.now() < deadline) await sleep(100)
      expect(tty, 'the live list').to.match(/Wait until ready/)
      expect(tty, 'redrawn in place').to.include('\u001B[1A')
      await sleep(1000)
      expect(await runtime.inspectContainer(MANAGED_NAME), 'the container exists while it waits').to.not.equal(
        undefined,
      )
      process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGINT')
      const code = await exited
      expect(code, tty).to.equal(130)
      expect(tty).to.match(/Interrupted/)
      expect(tty, 'the cursor is back').to.include('\u001B[?25h')
      expect(readFileSync(join(dir, 'stdout'), 'utf8'), 'nothing on stdout').to.equal('')
      await noContainerLeft()
      expect(lockLeft(home)).to.equal(false)
    })

    describe('as a host user who is neither root nor 1000', () => {
      const lab = loadLab()
      const user = lab.testUser ?? 'stigmer-test'

      it('workspace files survive stop/start and an image upgrade, and belong to the host user', async function () {
        this.timeout(300_000)
        const podmanSock = lab.podmanSock ?? '/run/podman/podman.sock'
        if (engine === 'podman' && !socketUsableBy(user, podmanSock)) {
          const why = `${user} cannot use ${podmanSock} (scripts/lab.sh has no stigmer-podman group yet)`
          console.warn(`\n  SKIPPING the non-root workspace test on Podman: ${why}${IN_CI ? ' (CI=true)' : ''}\n`)
          this.skip()
        }

        const ids = userIds(user)
        expect(ids.uid).to.not.equal(0)
        expect(ids.uid).to.not.equal(1000)
        const userHome = tempDir('user-home')
        chownToUser(userHome, user)
        const home = stigmerHome(user)
        const workspace = join(home, 'data', 'workspace')
        const asUser = (args: string[]) =>
          runCli(args, {
            env: {...engineEnv(engine), HOME: userHome, STIGMER_HOME: home, USER: user},
            timeoutMs: 150_000,
            user,
          })
        const ownedByUser = () => {
          for (const path of [
            workspace,
            join(workspace, '.agent-runner'),
            ...readdirSync(join(workspace, '.agent-runner')).map((f) => join(workspace, '.agent-runner', f)),
          ]) {
            expect(statSync(path).uid, `${path} owner`).to.equal(ids.uid)
          }
        }

        const hello = () =>
          readFileSync(join(workspace, '.agent-runner', 'hello.txt'), 'utf8')
            .trim()
            .split('\n')

        const first = await asUser(['server', 'start', '--runtime', engine, '--image', images.v1, '--json'])
        expect(first.code, out(first)).to.equal(0)
        expect((await runtime.exec(MANAGED_NAME, ['id', '-u'])).stdout.trim()).to.equal(String(ids.uid))
        await runtime.exec(MANAGED_NAME, [
          'sh',
          '-c',
          'mkdir -p /workspace/notes && echo kept > /workspace/notes/a.txt',
        ])
        expect(statSync(join(workspace, 'notes', 'a.txt')).uid).to.equal(ids.uid)
        ownedByUser()
        expect(hello()).to.have.length(1)
        expect(hello()[0]).to.include(`uid=${ids.uid}`)

        const stop = await asUser(['server', 'stop'])
        expect(stop.code, out(stop)).to.equal(0)
        const again = await asUser(['server', 'start', '--runtime', engine, '--image', images.v1, '--json'])
        expect(again.code, out(again)).to.equal(0)
        expect((again.json as StartJson).status).to.equal('started')
        expect(hello()).to.have.length(2)
        expect(readFileSync(join(workspace, 'notes', 'a.txt'), 'utf8')).to.equal('kept\n')

        // The upgrade: another image version replaces the container; the files stay.
        const upgrade = await asUser(['server', 'start', '--runtime', engine, '--image', images.v2, '--json'])
        expect(upgrade.code, out(upgrade)).to.equal(0)
        expect((upgrade.json as StartJson).status).to.equal('replaced')
        const status = await asUser(['server', 'status', '--json'])
        expect(status.code, out(status)).to.equal(0)
        expect((status.json as {imageVersion: string}).imageVersion).to.equal('2.0.0')
        expect(hello()).to.have.length(3)
        expect(readFileSync(join(workspace, 'notes', 'a.txt'), 'utf8')).to.equal('kept\n')
        ownedByUser()
        const last = await asUser(['server', 'stop'])
        expect(last.code, out(last)).to.equal(0)
        expect(existsSync(join(workspace, 'notes', 'a.txt'))).to.equal(true)
      })
    })
  })
}

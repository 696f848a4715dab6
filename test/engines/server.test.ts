/**
 * `stigmer server start|status|logs|stop` against the real engines (Docker
 * and Podman, the same suite), spawning the built CLI, with the fixture
 * agent-runner (test/fixtures/agent-runner) built from docker/Dockerfile on
 * the lab's local Python base. What is checked is what a user would check:
 * what the container actually received and does (read from inside it), exit
 * codes, and what is printed.
 *
 * The failure paths, concurrency, Ctrl-C and the non-root workspace are in
 * server-failures.test.ts.
 */
import {expect} from 'chai'
import {existsSync, readFileSync, readlinkSync, statSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import type {ContainerRuntime} from '../../src/engine/types.js'

import {formatBytes} from '../../src/lib/format.js'
import {CONTAINER_ENV} from '../../src/server/env.js'
import {
  ENGINES,
  loadLab,
  requireEngines,
  runCli,
  sleep,
  stigmerHome,
  track,
  uniqueName,
  useCleanup,
  waitFor,
} from '../helpers/lab.js'
import {
  clearManagedContainer,
  engineEnv,
  engineRuntime,
  fakeSecret,
  filesContaining,
  type FixtureImages,
  fixtureImages,
  useLabTemporal,
  imageCopy,
  labManifest,
  loginToLab,
  MANAGED_NAME,
  pushToLab,
  sha256,
  startCli,
  watchProcessArgs,
} from '../helpers/server-images.js'

interface StartJson {
  status: string
  containerId: string
  containerName: string
  image: string
  imageDigest?: string
  runtime: string
  network: string
  workspace: string
  health: string
  readyAfterMs: number
  pulled: boolean
}

interface StatusJson {
  state: string
  running: boolean
  healthy: boolean
  health: string
  containerId?: string
  image?: string
  imageDigest?: string
  imageVersion?: string
  network?: string
  runtime: string
  workspace?: string
  exitCode?: number
  env: Record<string, string>
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) /

/** RFC 3339 with any number of fraction digits, as nanoseconds since the epoch (for ordering). */
function nanos(stamp: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp)
  if (!m) throw new Error(`not an RFC 3339 time: ${stamp}`)
  const seconds = BigInt(Date.parse(`${m[1]}${m[3]}`) / 1000)
  return seconds * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9))
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '')
}

/** Runs a command in the managed container; it must succeed. Its stdout. */
async function execIn(runtime: ContainerRuntime, command: string[]): Promise<string> {
  const result = await runtime.exec(MANAGED_NAME, command, {timeoutMs: 30_000})
  expect(result.exitCode, `${command.join(' ')}: ${result.stderr}`).to.equal(0)
  return result.stdout
}

/** The numbers of the fixture's "tick N" / "warn tick N" lines in a text. */
function ticks(text: string): number[] {
  return [...text.matchAll(/tick (\d+)$/gm)].map((m) => Number(m[1]))
}

/** The uid:gid the container should run as when this process (uid) starts it: the host user, or the image's for root/1000. */
function expectedIds(uid: number, gid: number, imageUser: string): {gid: number; uid: number} {
  if (uid === 0 || uid === 1000) {
    const [u, g] = imageUser.split(':')
    return {gid: Number(g ?? u), uid: Number(u)}
  }

  return {gid, uid}
}

/** What a failed run said: its stderr, and stdout (where --json puts the error). */
function out(result: {stderr: string; stdout: string}): string {
  return `${result.stderr}\n${result.stdout}`
}

for (const {name: engine} of ENGINES) {
  describe(`stigmer server on ${engine}`, function () {
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
      // The container name is fixed: wait for another run's container to go before taking it.
      await clearManagedContainer(engine, 30_000)
    })

    after(async () => {
      await clearManagedContainer(engine)
    })

    /** runCli against this engine, with that STIGMER_HOME. */
    const cli = (home: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 150_000) =>
      runCli(args, {env: {...engineEnv(engine), STIGMER_HOME: home, ...env}, timeoutMs})

    describe('first run: pulls from the authenticated registry', () => {
      let home: string
      let ref: string
      let registryEnv: Record<string, string>
      let manifest: Awaited<ReturnType<typeof labManifest>>

      before(async function () {
        this.timeout(300_000)
        home = stigmerHome()
        const path = `${uniqueName('first-run')}/agent-runner:v1.0.0`
        registryEnv = (await loginToLab(engine)).env
        // A copy of the fixture, pushed, then gone locally: the start must pull it (its layers
        // stay, shared with the fixture), and its only digest is then the registry's.
        const copy = await imageCopy(engine, images.v1)
        ref = await pushToLab(engine, copy, path)
        manifest = await labManifest(path)
        await runtime.removeImage(ref)
        await runtime.removeImage(copy)
        expect(await runtime.imageExists(ref), `${ref} still present`).to.equal(false)
      })

      after(async () => {
        await clearManagedContainer(engine)
      })

      it('says it downloads the image once, with the size from the registry manifest, and ends healthy', async () => {
        const result = await cli(home, ['server', 'start', '--runtime', engine], {
          ...registryEnv,
          STIGMER_AGENT_RUNNER_IMAGE: ref,
        })
        expect(result.code, out(result)).to.equal(0)
        const message = new RegExp(
          `One-time setup: downloading the agent-runner image ${ref.replaceAll('.', '\\.')} \\(([\\d.]+) (B|kB|MB|GB)\\)`,
        ).exec(result.stderr)
        expect(message, `one-time message in:\n${result.stderr}`).to.not.equal(null)
        // The figure shown is the manifest's download size (config + layers), not a guess.
        expect(`${message![1]} ${message![2]}`).to.equal(formatBytes(manifest.totalSize))
        const layers = manifest.layerSizes.reduce((a, b) => a + b, 0)
        const shown = Number(message![1]) * {B: 1, GB: 1e9, kB: 1e3, MB: 1e6}[message![2] as 'B']
        expect(Math.abs(shown - layers) / layers, `shown ${shown} vs layers ${layers}`).to.be.lessThan(0.01)
        expect(await runtime.imageExists(ref)).to.equal(true)
        const info = await runtime.inspectContainer(MANAGED_NAME)
        expect(info?.running).to.equal(true)
        expect(info?.image).to.equal(ref)
      })

      it('a second start finds it running: --json result and status report the registry digest', async () => {
        const again = await cli(home, ['server', 'start', '--runtime', engine, '--json'], {
          ...registryEnv,
          STIGMER_AGENT_RUNNER_IMAGE: ref,
        })
        expect(again.code, out(again)).to.equal(0)
        expect(again.stderr).to.not.match(/One-time setup/)
        const json = again.json as StartJson
        expect(json).to.include({
          containerName: MANAGED_NAME,
          health: 'healthy',
          image: ref,
          imageDigest: manifest.digest,
          network: 'host',
          runtime: engine,
          status: 'already-running',
          workspace: join(home, 'data', 'workspace'),
        })
        const status = await cli(home, ['server', 'status', '--json'])
        expect(status.code, out(status)).to.equal(0)
        expect(status.json as StatusJson).to.include({
          containerId: json.containerId,
          health: 'healthy',
          image: ref,
          imageDigest: manifest.digest,
          state: 'running',
        })
      })

      it('--json reports the pull the first-run step made (after stop and removing the image)', async () => {
        const stop = await cli(home, ['server', 'stop', '--runtime', engine])
        expect(stop.code, out(stop)).to.equal(0)
        await runtime.removeImage(ref)
        const result = await cli(home, ['server', 'start', '--runtime', engine, '--json'], {
          ...registryEnv,
          STIGMER_AGENT_RUNNER_IMAGE: ref,
        })
        expect(result.code, out(result)).to.equal(0)
        expect(result.json as StartJson).to.include({
          health: 'healthy',
          image: ref,
          imageDigest: manifest.digest,
          pulled: true,
          status: 'started',
        })
      })
    })

    describe('a started agent-runner', () => {
      const lab = loadLab()
      const uid = process.getuid!()
      const gid = process.getgid!()
      const secrets = {
        ANTHROPIC_API_KEY: fakeSecret('sk-ant'),
        OPENAI_API_KEY: fakeSecret('sk-oai'),
        STIGMER_LLM_API_KEY: fakeSecret('llm'),
      }
      // flag > host environment > config file > default, one variable for each step.
      const hostEnv = {
        ...secrets,
        STIGMER_LLM_MODEL: 'host-model',
        STIGMER_LLM_PROVIDER: 'ollama',
        TEMPORAL_NAMESPACE: 'host-namespace',
      }
      const flags = ['--temporal-namespace', 'flag-namespace', '--llm-base-url', 'http://localhost:11434']
      const expectedEnv: Record<string, string | null> = {
        ANTHROPIC_API_KEY: secrets.ANTHROPIC_API_KEY,
        LOG_LEVEL: 'INFO',
        MODE: 'local',
        OLLAMA_BASE_URL: 'http://localhost:11434',
        OPENAI_API_KEY: secrets.OPENAI_API_KEY,
        SANDBOX_ROOT_DIR: '/workspace',
        SANDBOX_TYPE: 'filesystem',
        STIGMER_BACKEND_ENDPOINT: 'localhost:7234',
        STIGMER_LLM_API_KEY: secrets.STIGMER_LLM_API_KEY,
        STIGMER_LLM_BASE_URL: 'http://localhost:11434',
        STIGMER_LLM_MODEL: 'host-model',
        STIGMER_LLM_PROVIDER: 'ollama',
        TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE: 'cfg-queue',
        TEMPORAL_NAMESPACE: 'flag-namespace',
        TEMPORAL_SERVICE_ADDRESS: 'localhost:7233',
      }
      const secretValues = Object.values(secrets)
      const outputs: string[] = []
      let home: string
      let workspace: string
      let start: StartJson
      let psWatch: {hits: string[]; polls: number}

      const startArgs = () => ['server', 'start', '--runtime', engine, '--image', images.v1, '--json', ...flags]

      const exec = (command: string[]) => execIn(runtime, command)

      const receivedEnv = () =>
        JSON.parse(readFileSync(join(workspace, '.agent-runner', 'received-env.json'), 'utf8')) as Record<
          string,
          string | null
        >

      before(async function () {
        this.timeout(240_000)
        home = stigmerHome()
        workspace = join(home, 'data', 'workspace')
        writeFileSync(
          join(home, 'config.yaml'),
          [
            'env:',
            '  TEMPORAL_NAMESPACE: cfg-namespace',
            '  STIGMER_LLM_MODEL: cfg-model',
            '  TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE: cfg-queue',
            '',
          ].join('\n'),
        )
        const watch = watchProcessArgs(secretValues)
        const result = await cli(home, startArgs(), hostEnv)
        psWatch = await watch.stop()
        outputs.push(result.stdout, result.stderr)
        expect(result.code, out(result)).to.equal(0)
        start = result.json as StartJson
      })

      after(async () => {
        await clearManagedContainer(engine)
      })

      it('returns once healthy, with the --json result a script needs', async () => {
        expect(start).to.include({
          containerName: MANAGED_NAME,
          health: 'healthy',
          image: images.v1,
          network: 'host',
          runtime: engine,
          status: 'started',
          workspace,
        })
        expect(start.containerId).to.match(/^[\da-f]{64}$/)
        const info = await runtime.inspectContainer(MANAGED_NAME)
        expect(info?.id).to.equal(start.containerId)
        expect(info?.running).to.equal(true)
        // The fixture is ready 1 s after it starts: start must not wait for the 30 s check interval.
        expect(start.readyAfterMs).to.be.lessThan(15_000)
      })

      it('the agent-runner received exactly the variables of CONTAINER_ENV, with the right values', () => {
        const received = receivedEnv()
        expect(Object.keys(received).sort()).to.deep.equal(CONTAINER_ENV.map((v) => v.name).sort())
        for (const [name, value] of Object.entries(expectedEnv)) {
          const want = value !== null && name in secrets ? sha256(value) : value
          expect(received[name], name).to.equal(want)
        }
      })

      it("the container's own environment (env inside it) has those values and nothing stigmer did not mean", async () => {
        const env = Object.fromEntries(
          lines(await exec(['env'])).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        )
        for (const [name, value] of Object.entries(expectedEnv)) expect(env[name], name).to.equal(value ?? undefined)
        const allowed = new Set([
          'container',
          'HOME',
          'HOSTNAME',
          'TERM',
          ...CONTAINER_ENV.map((v) => v.name),
          ...images.imageEnv,
        ])
        expect(Object.keys(env).filter((n) => !allowed.has(n))).to.deep.equal([])
      })

      it('runs as the host user (or the image user for root), not root', async () => {
        const want = expectedIds(uid, gid, images.user)
        expect(Number((await exec(['id', '-u'])).trim())).to.equal(want.uid)
        expect(Number((await exec(['id', '-g'])).trim())).to.equal(want.gid)
        expect(want.uid).to.not.equal(0)
      })

      it('has the workspace mounted read-write at /workspace, shared both ways with the host folder', async () => {
        const mount = lines(await exec(['cat', '/proc/self/mountinfo']))
          .map((l) => l.split(' '))
          .find((f) => f[4] === '/workspace')
        expect(mount, 'a mount at /workspace').to.not.equal(undefined)
        expect(mount![5]!.split(',')).to.include('rw')
        expect(workspace.endsWith(mount![3]!), `mount root ${mount![3]} is the host folder ${workspace}`).to.equal(true)
        writeFileSync(join(workspace, 'from-host.txt'), 'host\n')
        expect((await exec(['cat', '/workspace/from-host.txt'])).trim()).to.equal('host')
        await exec(['sh', '-c', 'echo container > /workspace/from-container.txt'])
        expect(readFileSync(join(workspace, 'from-container.txt'), 'utf8')).to.equal('container\n')
        expect(statSync(join(workspace, 'from-container.txt')).uid).to.equal(expectedIds(uid, gid, images.user).uid)
      })

      it("uses the host's network: same network namespace, and the host's 127.0.0.1 answers from inside", async () => {
        const hostNs = readlinkSync('/proc/self/ns/net')
        expect((await exec(['readlink', '/proc/1/ns/net'])).trim()).to.equal(hostNs)
        const token = uniqueName('hello')
        const server = net.createServer((socket) => socket.end(token))
        await new Promise<void>((resolve) => {
          server.listen(0, '127.0.0.1', resolve)
        })
        try {
          const {port} = server.address() as net.AddressInfo
          const script = `import socket; s = socket.create_connection(("127.0.0.1", ${port}), 5); print(s.recv(200).decode())`
          expect((await exec(['python', '-c', script])).trim()).to.equal(token)
        } finally {
          server.close()
        }
      })

      it('status: exit 0 when healthy, --json with state, health, image, network, workspace and masked env (engine remembered)', async () => {
        // No --runtime: the engine that ran start is remembered in STIGMER_HOME.
        const text = await cli(home, ['server', 'status'])
        outputs.push(text.stdout, text.stderr)
        expect(text.code, out(text)).to.equal(0)
        expect(text.stdout).to.match(/running, healthy/)
        const result = await cli(home, ['server', 'status', '--json'])
        outputs.push(result.stdout, result.stderr)
        expect(result.code, out(result)).to.equal(0)
        const status = result.json as StatusJson
        expect(status).to.include({
          containerId: start.containerId,
          health: 'healthy',
          healthy: true,
          image: images.v1,
          imageVersion: '1.0.0',
          network: 'host',
          running: true,
          runtime: engine,
          state: 'running',
          workspace,
        })
        for (const name of Object.keys(secrets)) expect(status.env[name], name).to.equal('****')
        expect(status.env).to.include({
          MODE: 'local',
          STIGMER_LLM_MODEL: 'host-model',
          TEMPORAL_NAMESPACE: 'flag-namespace',
        })
      })

      it('logs: stdout on stdout, stderr on stderr', async () => {
        // The fixture alternates "tick N" (stdout) and "warn tick N" (stderr) every 2 s.
        const result = await waitFor(
          'a tick on each stream',
          async () => {
            const r = await cli(home, ['server', 'logs', '--runtime', engine])
            return /^warn tick \d+$/m.test(r.stderr) && /^tick \d+$/m.test(r.stdout) ? r : undefined
          },
          {intervalMs: 1000, timeoutMs: 30_000},
        )
        outputs.push(result.stdout, result.stderr)
        expect(result.code).to.equal(0)
        expect(result.stdout).to.match(/agent-runner fixture \d+\.\d+\.\d+ starting/)
        expect(result.stdout).to.not.match(/warn tick/)
        expect(lines(result.stderr).every((l) => !/^tick \d+$/.test(l))).to.equal(true)
      })

      it('logs --tail/-n N: only the last N lines', async () => {
        for (const args of [
          ['--tail', '3'],
          ['-n', '2'],
        ]) {
          const n = Number(args[1])
          const full = await cli(home, ['server', 'logs', '--runtime', engine])
          const result = await cli(home, ['server', 'logs', '--runtime', engine, ...args])
          expect(result.code, out(result)).to.equal(0)
          const got = [...lines(result.stdout), ...lines(result.stderr)]
          const text = `${args.join(' ')}:\n${result.stdout}${result.stderr}`
          if (engine === 'docker') {
            expect(got.length, text).to.equal(n)
          } else {
            // Podman 4.3 counts records of its k8s-file log, and a line the runner wrote in two
            // pieces (Python's print) is two records ("P" + "F"): it may give fewer than N lines.
            expect(got.length, text).to.be.within(1, n)
          }

          // The newest ones: the last tick of the full log (or a later one) is among them.
          const newest = Math.max(...ticks(`${full.stdout}${full.stderr}`))
          expect(Math.max(...ticks(got.join('\n'))), text).to.be.at.least(newest)
        }
      })

      it('logs --timestamps: each line starts with its RFC 3339 time', async () => {
        const result = await cli(home, ['server', 'logs', '--runtime', engine, '--timestamps'])
        expect(result.code, out(result)).to.equal(0)
        const all = [...lines(result.stdout), ...lines(result.stderr)]
        expect(all.length).to.be.greaterThan(3)
        for (const l of all) expect(l).to.match(TIMESTAMP)
      })

      it('logs --since: a time leaves out earlier lines; a duration reaches back', async () => {
        const since = new Date()
        await sleep(2500) // at least one tick after `since`
        const result = await cli(home, [
          'server',
          'logs',
          '--runtime',
          engine,
          '--timestamps',
          '--since',
          since.toISOString(),
        ])
        expect(result.code, out(result)).to.equal(0)
        const all = [...lines(result.stdout), ...lines(result.stderr)]
        expect(all.join('\n')).to.match(/tick \d+/)
        expect(result.stdout).to.not.match(/agent-runner fixture .* starting/)
        const floor = BigInt(Math.floor(since.getTime() / 1000)) * 1_000_000_000n
        for (const l of all) expect(nanos(TIMESTAMP.exec(l)![0].trim()) >= floor, l).to.equal(true)
        const back = await cli(home, ['server', 'logs', '--runtime', engine, '--since', '10m'])
        expect(back.stdout).to.match(/agent-runner fixture .* starting/)
      })

      it("logs --all: the container's lines and stigmer's lifecycle log, labelled, in time order", async () => {
        const result = await cli(home, ['server', 'logs', '--runtime', engine, '--all', '--timestamps'])
        outputs.push(result.stdout, result.stderr)
        expect(result.code, out(result)).to.equal(0)
        const all = lines(result.stdout)
        expect(
          all.some((l) => / \[stigmer\] start: started container /.test(l)),
          result.stdout,
        ).to.equal(true)
        expect(all.some((l) => / \[agent-runner:stderr\] warn tick \d+$/.test(l))).to.equal(true)
        const times = all.map((l) => nanos(TIMESTAMP.exec(l)![0].trim()))
        for (let i = 1; i < times.length; i++)
          expect(times[i]! >= times[i - 1]!, `${all[i - 1]}\n${all[i]}`).to.equal(true)
        // The runner is ready once it holds its Temporal connection (the image's check): it logs that
        // line as soon as the connection is made, before stigmer's check can have seen it.
        const connected = all.findIndex((l) => / \[agent-runner\] temporal: connected to /.test(l))
        const stigmerReady = all.findIndex((l) => / \[stigmer\] ready: container /.test(l))
        expect(connected).to.be.greaterThan(-1)
        expect(stigmerReady, 'stigmer records ready after the runner connected').to.be.greaterThan(connected)
      })

      it('logs -f follows new lines; Ctrl-C detaches (exit 0) and the container keeps running', async () => {
        const follow = startCli(['server', 'logs', '--runtime', engine, '-f', '-n', '1'], {
          env: {...engineEnv(engine), STIGMER_HOME: home},
        })
        await follow.waitForOutput(/tick (\d+)/, 20_000)
        const first = Math.max(
          ...[...`${follow.stdout()}${follow.stderr()}`.matchAll(/tick (\d+)/g)].map((m) => Number(m[1])),
        )
        await follow.waitForOutput(new RegExp(`tick (${first + 1}|${first + 2})\\b`), 20_000)
        follow.signal('SIGINT')
        const result = await follow.done
        expect(result.code, out(result)).to.equal(0)
        const info = await runtime.inspectContainer(MANAGED_NAME)
        expect(info?.running).to.equal(true)
        expect(info?.id).to.equal(start.containerId)
      })

      it('secrets from the host environment never show: not in ps while start ran, not in any output, not in ~/.stigmer', () => {
        expect(psWatch.polls, 'ps polls while start ran').to.be.greaterThan(5)
        expect(psWatch.hits, 'process command lines with a secret').to.deep.equal([])
        for (const text of outputs)
          for (const secret of secretValues)
            expect(text.includes(secret), `output contains a secret:\n${text}`).to.equal(false)
        expect(filesContaining(home, secretValues)).to.deep.equal([])
        expect(existsSync(join(home, 'logs', 'stigmer.log')), 'the lifecycle log was searched').to.equal(true)
        // ...while they did reach the container (received-env.json holds their sha256).
        const received = receivedEnv()
        for (const [name, value] of Object.entries(secrets)) expect(received[name]).to.equal(sha256(value))
      })

      it('start again with the same spec: already-running, the same container', async () => {
        const result = await cli(home, startArgs(), hostEnv)
        expect(result.code, out(result)).to.equal(0)
        expect(result.json as StartJson).to.include({containerId: start.containerId, status: 'already-running'})
        for (const secret of secretValues) expect(result.stdout + result.stderr).to.not.include(secret)
      })

      /** `server start` of images.v1 with LOG_LEVEL=DEBUG: another spec than the first start's. */
      const startWithDebugLogs = async () =>
        cli(home, ['server', 'start', '--runtime', engine, '--image', images.v1, '--json', '--log-level', 'DEBUG'])

      it('start with another spec replaces it; a follower switches to the new container; keys unset are not passed', async () => {
        const follow = startCli(['server', 'logs', '--runtime', engine, '-f', '-n', '0'], {
          env: {...engineEnv(engine), STIGMER_HOME: home},
        })
        await sleep(1500) // let it attach
        // No API keys in the environment now, another log level: another spec.
        const result = await startWithDebugLogs()
        expect(result.code, out(result)).to.equal(0)
        const replaced = result.json as StartJson
        expect(replaced.status).to.equal('replaced')
        expect(replaced.containerId).to.not.equal(start.containerId)
        const containers = await runtime.listContainers({name: MANAGED_NAME})
        expect(containers.filter((c) => c.name === MANAGED_NAME).map((c) => c.id)).to.deep.equal([replaced.containerId])
        await follow.waitForOutput(
          new RegExp(`(replaced|following new container).*${replaced.containerId.slice(0, 12)}`),
          20_000,
        )
        await follow.waitForOutput(/env LOG_LEVEL=DEBUG/, 20_000)
        follow.signal('SIGINT')
        expect((await follow.done).code).to.equal(0)
        const received = receivedEnv()
        for (const name of Object.keys(secrets)) expect(received[name], name).to.equal(null)
        // Without the host values: the config file, then the defaults.
        expect(received).to.include({
          LOG_LEVEL: 'DEBUG',
          STIGMER_LLM_MODEL: 'cfg-model',
          TEMPORAL_NAMESPACE: 'cfg-namespace',
        })
        expect(received.STIGMER_LLM_PROVIDER).to.equal(null)
        start = replaced
      })

      it('a stopped container: logs show its last run, status exits 3, and start replaces it', async () => {
        await runtime.stopContainer(start.containerId, {timeoutSeconds: 10})
        const logs = await cli(home, ['server', 'logs', '--runtime', engine])
        expect(logs.code, out(logs)).to.equal(0)
        expect(logs.stdout).to.match(/shutting down \(SIGTERM\)/)
        const status = await cli(home, ['server', 'status', '--runtime', engine, '--json'])
        expect(status.code).to.equal(3)
        expect(status.json as StatusJson).to.include({exitCode: 0, running: false, state: 'exited'})
        const result = await startWithDebugLogs()
        expect(result.code, out(result)).to.equal(0)
        const json = result.json as StartJson
        expect(json.status).to.equal('replaced')
        expect(json.containerId).to.not.equal(start.containerId)
        expect(json.health).to.equal('healthy')
        start = json
      })

      it('stop: removes it, keeps the workspace, leaves other containers and the image alone', async () => {
        const other = await runtime.createContainer({
          binds: [],
          command: ['sh', '-c', "trap 'exit 0' TERM; sleep 300 & wait"],
          env: {},
          image: lab.busybox,
          name: uniqueName('unrelated'),
          network: 'host',
        })
        track.container(runtime, other)
        await runtime.startContainer(other)
        const result = await cli(home, ['server', 'stop'])
        expect(result.code, out(result)).to.equal(0)
        expect(result.stdout).to.match(/Stopped and removed stigmer-agent-runner/)
        expect(await runtime.inspectContainer(MANAGED_NAME)).to.equal(undefined)
        expect((await runtime.inspectContainer(other))?.running).to.equal(true)
        expect(await runtime.imageExists(images.v1)).to.equal(true)
        expect(readFileSync(join(workspace, 'from-container.txt'), 'utf8')).to.equal('container\n')
        expect(lines(readFileSync(join(workspace, '.agent-runner', 'hello.txt'), 'utf8'))).to.have.length(3)
      })

      it('with nothing running: stop exits 0 saying so, status exits 3 (absent), logs exits 33', async () => {
        const stop = await cli(home, ['server', 'stop', '--runtime', engine])
        expect(stop.code, out(stop)).to.equal(0)
        expect(stop.stdout).to.match(/not running/)
        // The container name is fixed: another suite running at the same time on this engine would show here.
        const other = async () => {
          const info = await runtime.inspectContainer(MANAGED_NAME)
          return info ? `\n(a ${MANAGED_NAME} container exists: image ${info.image}, created ${info.created})` : ''
        }

        const status = await cli(home, ['server', 'status', '--runtime', engine, '--json'])
        expect(status.code, out(status) + (await other())).to.equal(3)
        expect((status.json as StatusJson).state).to.equal('absent')
        const logs = await cli(home, ['server', 'logs', '--runtime', engine])
        expect(logs.code, out(logs) + (await other())).to.equal(33)
        expect(logs.stderr).to.match(/no agent-runner container/i)
        expect(existsSync(join(workspace, '.agent-runner', 'hello.txt')), 'the workspace is kept').to.equal(true)
      })
    })
  })
}

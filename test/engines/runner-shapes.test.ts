/* eslint-disable n/no-unsupported-features/node-builtins -- fs.cpSync is flagged experimental before Node 22.3 but works in Node 20. */
/**
 * The real agent-runner's shapes, on both engines, through the CLI as a user runs it:
 * `stigmer image build --source <the runner's folder>`, then `stigmer server start`.
 *
 * The fixtures (test/fixtures/stigmer-monorepo) are shaped like stigmer/stigmer's
 * backend/services/agent-runner, not like our own contract:
 * - the seed: a Poetry project, `main.py` at the service root, a path dependency on
 *   ../../../apis/stubs/python/stigmer outside the service folder;
 * - later: PEP 621 + hatchling, src/stigmer_runner, the console script stigmer-runner,
 *   the stubs through [tool.uv.sources].
 * Neither writes a heartbeat; each connects to Temporal and long-polls its task queue the
 * way a worker does (the stubs' temporal_wire: HTTP/2 + gRPC, standard library only).
 * Temporal is the stand-in built from Temporal's published protos (test/helpers/
 * temporal-standin.ts): no real Temporal server can run offline here.
 */
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {cpSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {ENTRYPOINT_LABEL} from '../../src/image/build.js'
import {
  ENGINES,
  loadLab,
  REPO_ROOT,
  requireEngines,
  runCli,
  stigmerHome,
  tempDir,
  uniqueName,
  useCleanup,
  waitFor,
} from '../helpers/lab.js'
import {
  atEnd,
  clearManagedContainer,
  engineCli,
  engineEnv,
  engineRuntime,
  fixtureImages,
  LAB_TEMPORAL_PORT,
  useLabTemporal,
} from '../helpers/server-images.js'

const MONOREPO = join(REPO_ROOT, 'test', 'fixtures', 'stigmer-monorepo')

/** A checkout of the monorepo fixture (git repository, .env files and tests in it, as on a developer's disk). */
function checkout(): string {
  const dir = join(tempDir('monorepo'), 'stigmer')
  cpSync(MONOREPO, dir, {recursive: true})
  for (const env of ['backend/services/agent-runner/.env', 'apis/stubs/python/stigmer/.env'])
    writeFileSync(join(dir, env), 'ANTHROPIC_API_KEY=sk-ant-must-not-be-in-the-image\n')
  writeFileSync(join(dir, 'backend/services/agent-runner-pep621/.env'), 'X=must-not-be-in-the-image\n')
  execFileSync('git', ['init', '-q', dir])
  execFileSync('git', ['-C', dir, 'add', '-A'])
  execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'fixture'])
  return dir
}

for (const {name: engine} of ENGINES) {
  describe(`the real agent-runner's shapes on ${engine}: build, start, ready only while Temporal answers`, function () {
    this.timeout(300_000)
    requireEngines([engine])
    useCleanup()
    const temporal = useLabTemporal()
    const lab = loadLab()
    let repo: string
    const built: Record<'pep621' | 'seed', string> = {pep621: '', seed: ''}

    const cli = (
      args: string[],
      opts: {env?: Record<string, string | undefined>; home?: string; timeoutMs?: number} = {},
    ) =>
      runCli(args, {
        env: {...engineEnv(engine), STIGMER_HOME: opts.home ?? stigmerHome(), ...opts.env},
        timeoutMs: opts.timeoutMs ?? 240_000,
      })
    const out = (r: {stderr: string; stdout: string}) => `${r.stderr}\n${r.stdout}`
    /** `stigmer server start --image IMAGE ...flags` on this engine, with that STIGMER_HOME. */
    const start = (home: string, image: string, ...flags: string[]) =>
      cli(['server', 'start', '--runtime', engine, '--image', image, ...flags], {home})

    /** Files in the image, through its own shell (the entrypoint bypassed). */
    const filesIn = (ref: string): string[] => {
      const {args, bin} = engineCli(engine)
      return execFileSync(
        bin,
        [
          ...args,
          'run',
          '--rm',
          '--entrypoint',
          '/bin/sh',
          ref,
          '-c',
          'find /app /opt/stigmer -not -path "/app/.venv/*"',
        ],
        {
          encoding: 'utf8',
        },
      )
        .trim()
        .split('\n')
    }

    async function build(shape: keyof typeof built, folder: string): Promise<void> {
      const ref = `localhost/${uniqueName(`shape-${shape}`)}/agent-runner:dev`
      atEnd(() =>
        engineRuntime(engine)
          .removeImage(ref, {force: true})
          .then(() => {})
          .catch(() => {}),
      )
      const result = await cli([
        'image',
        'build',
        '--runtime',
        engine,
        '--source',
        join(repo, folder),
        '--build-arg',
        `BASE_IMAGE=${lab.python}`,
        '--build-arg',
        `BUILDER_IMAGE=${lab.pythonBuilder}`,
        '--tag',
        ref,
      ])
      expect(result.code, out(result)).to.equal(0)
      built[shape] = ref
    }

    before(async function () {
      this.timeout(900_000)
      repo = checkout()
      await clearManagedContainer(engine, 30_000)
    })

    after(async () => {
      await clearManagedContainer(engine)
    })

    it('the seed (Poetry, main.py, a path dependency outside the folder): image build finds all three and says so', async () => {
      await build('seed', 'backend/services/agent-runner')
      const info = await engineRuntime(engine).inspectImage(built.seed)
      expect(info?.labels[ENTRYPOINT_LABEL]).to.equal(
        '/app/.venv/bin/python /app/backend/services/agent-runner/main.py',
      )
      expect(info?.labels['io.stigmer.installer']).to.equal('poetry')
      expect(info?.healthcheck?.test).to.deep.equal(['/app/.venv/bin/python', '-I', '/opt/stigmer/healthcheck.py'])
      expect(info?.user).to.equal('1000:1000')
      const files = filesIn(built.seed)
      expect(files).to.include('/app/backend/services/agent-runner/main.py')
      expect(files).to.include('/app/apis/stubs/python/stigmer/ai/stigmer/temporal_wire.py')
      expect(files).to.include('/opt/stigmer/healthcheck.py')
      // Nothing private: no .env, no tests, no VCS folder, in the runner or in its staged path dependency.
      expect(files.filter((f) => /\/(\.env[^/]*|tests|\.git|\.stigmer-image)(\/|$)/.test(f))).to.deep.equal([])
      expect(
        files.some((f) => f.includes('agent-runner-pep621')),
        'the other service stayed out',
      ).to.equal(false)
    })

    it('the seed starts, becomes ready once connected to Temporal, and registers a poller on its task queue', async () => {
      const home = stigmerHome()
      const started = await start(home, built.seed, '--timeout', '60', '--json')
      expect(started.code, out(started)).to.equal(0)
      const logs = await cli(['server', 'logs', '--runtime', engine], {home})
      expect(logs.stdout + logs.stderr).to.include('Worker ready, polling for tasks...')
      const status = await cli(['server', 'status', '--runtime', engine], {home})
      expect(status.code, out(status)).to.equal(0)
      expect(status.stdout).to.match(/last probe {2}ready: connected to 127\.0\.0\.1:7233/)
      expect(status.stdout).to.match(/registered: 1 poller\(s\) on agent_execution_runner \(namespace default\)/)
      expect(temporal.current().pollers({taskQueue: 'agent_execution_runner'}).length).to.be.greaterThan(0)
    })

    it('Temporal goes away: server status is not healthy within seconds (exit 4); back when it returns', async () => {
      const home = stigmerHome()
      await temporal.current().stop()
      const gone = Date.now()
      const down = await waitFor(
        'status not healthy',
        async () => {
          const r = await cli(['server', 'status', '--runtime', engine, '--json'], {home})
          return r.code === 4 ? r : undefined
        },
        {intervalMs: 250, timeoutMs: 20_000},
      )
      expect(Date.now() - gone, 'seconds, not the engine check interval').to.be.lessThan(10_000)
      expect((down.json as {lastProbe: string}).lastProbe).to.match(/^not ready: no connection to localhost:7233/)
      expect((down.json as {registration: {pollers?: number}}).registration.pollers).to.equal(undefined)
      await temporal.restart()
      // The runner reconnects (every second) and the check passes again.
      await waitFor(
        'healthy again',
        async () => (await cli(['server', 'status', '--runtime', engine], {home})).code === 0,
        {intervalMs: 500, timeoutMs: 30_000},
      )
    })

    it('a host process connected to Temporal does not make a runner that never connected look ready', async () => {
      const images = await fixtureImages(engine)
      const home = stigmerHome()
      // This test process holds a connection to the same Temporal, on the same host network.
      const host = net.connect(LAB_TEMPORAL_PORT, '127.0.0.1')
      await new Promise((resolve) => {
        host.once('connect', resolve)
      })
      try {
        const started = await start(home, images.v1, '--env', 'FIXTURE_NEVER_READY=1', '--timeout', '6')
        expect(started.code, out(started)).to.equal(31)
        expect(started.stderr).to.include('not ready: no connection to localhost:7233')
      } finally {
        host.destroy()
      }
    })

    it('start with no Temporal: fails within --timeout and says Temporal is the reason; nothing left', async () => {
      const home = stigmerHome()
      const result = await start(home, built.seed, '--temporal-address', '127.0.0.1:1', '--timeout', '8')
      expect(result.code, out(result)).to.equal(31)
      expect(result.ms).to.be.lessThan(40_000)
      expect(result.stderr).to.match(/Temporal does not answer at 127\.0\.0\.1:1/)
      expect(result.stderr).to.match(/did not become ready within 8 s: Temporal does not answer/)
      expect(await engineRuntime(engine).inspectContainer('stigmer-agent-runner')).to.equal(undefined)
    })

    it('later shape (PEP 621, hatchling, console script, [tool.uv.sources]): builds with pip and registers (--wait-for registered)', async () => {
      await build('pep621', 'backend/services/agent-runner-pep621')
      const info = await engineRuntime(engine).inspectImage(built.pep621)
      expect(info?.labels[ENTRYPOINT_LABEL]).to.equal('/app/.venv/bin/stigmer-runner')
      expect(info?.labels['io.stigmer.installer']).to.equal('pip')
      const home = stigmerHome()
      const started = await start(
        home,
        built.pep621,
        '--wait-for',
        'registered',
        '--env',
        'TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE=shape-pep621',
        '--timeout',
        '60',
        '--json',
      )
      expect(started.code, out(started)).to.equal(0)
      const json = started.json as {registered: {pollers: string[]; taskQueue: string}}
      expect(json.registered.taskQueue).to.equal('shape-pep621')
      expect(json.registered.pollers.length).to.be.greaterThan(0)
      const stop = await cli(['server', 'stop', '--runtime', engine], {home})
      expect(stop.code, out(stop)).to.equal(0)
    })
  })
}

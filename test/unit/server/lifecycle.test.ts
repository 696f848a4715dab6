import {expect} from 'chai'
import {chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  HealthcheckRunResult,
  LogLine,
} from '../../../src/engine/types.js'

import {DOCKER_CAPABILITIES, PODMAN_CAPABILITIES} from '../../../src/adapters/capabilities.js'
import {statusExitCode} from '../../../src/commands/server/status.js'
import {InterruptedError, StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {
  containerUser,
  ensureWorkspace,
  HEAVY_PROBE_MS,
  nextProbeInMs,
  repoDigest,
  specHash,
  waitUntilReady,
} from '../../../src/server/lifecycle.js'
import {rejectionOf} from '../../helpers/rejection.js'

const native = {inVm: false, rootless: false}

function info(over: Partial<ContainerInfo>): ContainerInfo {
  return {
    binds: [],
    created: '',
    env: {},
    error: undefined,
    exitCode: 0,
    finishedAt: undefined,
    health: 'starting',
    healthcheck: {test: ['CMD', 'true']},
    healthFailingStreak: 0,
    healthLog: [],
    id: 'c1',
    image: 'img',
    imageId: 'sha256:1',
    labels: {},
    name: 'stigmer-agent-runner',
    network: 'host',
    oomKilled: false,
    restartCount: 0,
    running: true,
    startedAt: undefined,
    status: 'running',
    user: '',
    ...over,
  }
}

/** A runtime whose inspect answers are scripted (the last one repeats), and whose probe is given. */
function scripted(
  states: ContainerInfo[],
  probe: () => HealthcheckRunResult,
  log: string[] = ['line one', 'line two'],
): ContainerRuntime & {probes: number} {
  let i = 0
  const fake = {
    async inspectContainer() {
      const state = states[Math.min(i, states.length - 1)]
      i++
      return state
    },
    async *logs(): AsyncGenerator<LogLine> {
      for (const text of log) yield {stream: 'stdout', text, timestamp: undefined}
    },
    probes: 0,
    async runHealthcheck() {
      fake.probes++
      return probe()
    },
  }
  return fake as unknown as ContainerRuntime & {probes: number}
}

const notReady = (): HealthcheckRunResult => ({
  exitCode: 1,
  output: 'not ready: no heartbeat at /tmp/agent-runner.ready',
  status: 'unhealthy',
})

const failure = async (promise: Promise<unknown>) => rejectionOf(promise, StigmerError)

describe('server service', () => {
  describe('ensureWorkspace: never re-owns through a link', () => {
    const asRoot = process.getuid?.() === 0
    let dir: string

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'stigmer-ws-'))
    })

    afterEach(() => rmSync(dir, {force: true, recursive: true}))

    it('a link planted at the default workspace, to a root-owned folder: refused (41), the target keeps its owner', function () {
      if (!asRoot) this.skip()
      const target = join(dir, 'root-owned')
      mkdirSync(target)
      chownSync(target, 0, 0)
      const data = join(dir, 'data')
      mkdirSync(data)
      symlinkSync(target, join(data, 'workspace'))
      let error: unknown
      try {
        ensureWorkspace(join(data, 'workspace'), {gid: 1000, uid: 1000}, true, 0)
      } catch (error_) {
        error = error_
      }

      expect(error).to.be.instanceOf(StigmerError)
      expect((error as StigmerError).exit).to.equal(ExitCode.WORKSPACE)
      expect((error as StigmerError).message).to.match(/symbolic link/)
      expect(statSync(target).uid).to.equal(0)
      expect(statSync(target).gid).to.equal(0)
    })

    it('a component above it that another user owns: refused, nothing re-owned', function () {
      if (!asRoot) this.skip()
      const data = join(dir, 'data')
      mkdirSync(data)
      chownSync(data, 4242, 4242)
      let error: unknown
      try {
        ensureWorkspace(join(data, 'workspace'), {gid: 1000, uid: 1000}, true, 0)
      } catch (error_) {
        error = error_
      }

      expect((error as StigmerError).exit).to.equal(ExitCode.WORKSPACE)
      expect((error as StigmerError).message).to.match(/another user \(uid 4242\)/)
      expect(lstatSync(join(data, 'workspace')).uid).to.equal(0)
    })

    it('a real default workspace under root-owned folders goes to the image user', function () {
      if (!asRoot) this.skip()
      const ws = join(dir, 'data', 'workspace')
      ensureWorkspace(ws, {gid: 1000, uid: 1000}, true, 0)
      expect(statSync(ws).uid).to.equal(1000)
      expect(statSync(ws).gid).to.equal(1000)
      // The next start finds it already theirs.
      ensureWorkspace(ws, {gid: 1000, uid: 1000}, true, 0)
      expect(statSync(ws).uid).to.equal(1000)
    })

    it('a folder the user named is used through a link, and never re-owned', () => {
      const target = join(dir, 'real')
      mkdirSync(target)
      symlinkSync(target, join(dir, 'named'))
      const before = statSync(target).uid
      ensureWorkspace(join(dir, 'named'), {gid: 1000, uid: 1000}, false)
      expect(statSync(target).uid).to.equal(before)
    })
  })

  describe('containerUser', () => {
    it('Linux, native engine: runs as the host user so workspace files are theirs', () => {
      expect(containerUser('linux', native, DOCKER_CAPABILITIES, 1500, 1500)).to.deep.equal({user: '1500:1500'})
      expect(containerUser('linux', native, PODMAN_CAPABILITIES, 1500, 100)).to.deep.equal({user: '1500:100'})
    })

    it('root and uid 1000 keep the image user (never root inside)', () => {
      expect(containerUser('linux', native, DOCKER_CAPABILITIES, 0, 0)).to.deep.equal({})
      expect(containerUser('linux', native, DOCKER_CAPABILITIES, 1000, 1000)).to.deep.equal({})
    })

    it('rootless Podman: keep-id with the same uid', () => {
      expect(containerUser('linux', {inVm: false, rootless: true}, PODMAN_CAPABILITIES, 1500, 1500)).to.deep.equal({
        keepUserNamespace: true,
        user: '1500:1500',
      })
    })

    it('a VM (Docker Desktop, Podman machine), another OS, or no uid: nothing to map', () => {
      expect(containerUser('linux', {...native, inVm: true}, PODMAN_CAPABILITIES, 1500, 1500)).to.deep.equal({})
      expect(containerUser('darwin', native, PODMAN_CAPABILITIES, 501, 20)).to.deep.equal({})

      expect(containerUser('win32', native, PODMAN_CAPABILITIES, undefined, undefined)).to.deep.equal({})
    })
  })

  describe('specHash', () => {
    const spec: ContainerSpec = {
      binds: [{containerPath: '/workspace', hostPath: '/home/u/.stigmer/data/workspace'}],
      env: {A: '1', B: '2'},
      image: 'ghcr.io/stigmer/agent-runner:v1.0.0',
      labels: {anything: 'x'},
      name: 'stigmer-agent-runner',
      network: 'host',
      restartPolicy: 'unless-stopped',
    }

    it('is stable: 16 hex digits, independent of env order and of labels', () => {
      const hash = specHash(spec, 'sha256:aaa')
      expect(hash).to.match(/^[\da-f]{16}$/)
      expect(specHash({...spec, env: {B: '2', A: '1'}, labels: {other: 'y'}}, 'sha256:aaa')).to.equal(hash)
    })

    it('changes with what makes another container: image id, env value, workspace, network, user', () => {
      const hash = specHash(spec, 'sha256:aaa')
      const variants = [
        specHash(spec, 'sha256:bbb'),
        specHash({...spec, env: {A: '1', B: '3'}}, 'sha256:aaa'),
        specHash({...spec, env: {A: '1'}}, 'sha256:aaa'),
        specHash({...spec, binds: [{containerPath: '/workspace', hostPath: '/srv/ws'}]}, 'sha256:aaa'),
        specHash({...spec, network: 'bridge'}, 'sha256:aaa'),
        specHash({...spec, user: '1500:1500'}, 'sha256:aaa'),
        specHash({...spec, extraHosts: {'host.docker.internal': 'host-gateway'}}, 'sha256:aaa'),
      ]
      for (const v of variants) expect(v).to.not.equal(hash)
      expect(new Set(variants).size).to.equal(variants.length)
    })
  })

  describe('repoDigest', () => {
    it("picks the digest of the repository being run, not a local build's name (Podman lists both)", () => {
      const digests = [
        'localhost/stigmer-dev/agent-runner@sha256:local',
        '127.0.0.1:5000/team/agent-runner@sha256:remote',
      ]
      expect(repoDigest(digests, '127.0.0.1:5000/team/agent-runner:v1.0.0')).to.equal('sha256:remote')
      expect(repoDigest(digests, 'localhost/stigmer-dev/agent-runner:v1')).to.equal('sha256:local')
    })

    it('matches Docker Hub names however they are spelled; falls back to the first; none when there are none', () => {
      expect(repoDigest(['stigmer/agent-runner@sha256:a'], 'docker.io/stigmer/agent-runner:v1')).to.equal('sha256:a')
      expect(repoDigest(['docker.io/library/busybox@sha256:b'], 'busybox:1')).to.equal('sha256:b')
      expect(repoDigest(['other/x@sha256:c'], 'ghcr.io/stigmer/agent-runner:v1')).to.equal('sha256:c')
      expect(repoDigest([], 'ghcr.io/stigmer/agent-runner:v1')).to.equal(undefined)
    })
  })

  describe('statusExitCode', () => {
    it('0 running and healthy, 4 running but not healthy, 3 not running', () => {
      expect(statusExitCode({healthy: true, running: true})).to.equal(ExitCode.OK)
      expect(statusExitCode({healthy: false, running: true})).to.equal(ExitCode.NOT_HEALTHY)
      expect(statusExitCode({healthy: false, running: false})).to.equal(ExitCode.NOT_RUNNING)
      expect([ExitCode.OK, ExitCode.NOT_RUNNING, ExitCode.NOT_HEALTHY]).to.deep.equal([0, 3, 4])
    })
  })

  describe('waitUntilReady (a scripted engine)', () => {
    const {signal} = new AbortController()

    it('paces probes like a hand-written loop: every 50 ms, back to back when slower; a heavy check gets as long again', () => {
      expect(nextProbeInMs(10, 0)).to.equal(40)
      expect(nextProbeInMs(120, 500)).to.equal(0)
      expect(nextProbeInMs(HEAVY_PROBE_MS + 100, 500)).to.equal(HEAVY_PROBE_MS + 100)
      expect(nextProbeInMs(10, 10_001)).to.equal(1000)
    })

    it('returns as soon as its own probe passes, without waiting for the engine interval', async () => {
      let n = 0
      const runtime = scripted([info({})], () =>
        ++n < 3 ? notReady() : {exitCode: 0, output: 'ready: heartbeat 0s old', status: 'healthy'},
      )
      const started = Date.now()
      const ready = await waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 10_000})
      expect(ready.health).to.equal('healthy')
      expect(runtime.probes).to.equal(3)
      expect(Date.now() - started).to.be.lessThan(2000)
    })

    it('an image without a health check is ready once it runs', async () => {
      const runtime = scripted(
        [info({status: 'created', running: false}), info({healthcheck: undefined, health: 'none'})],
        notReady,
      )
      const ready = await waitUntilReady(runtime, 'c1', {hasHealthcheck: false, signal, timeoutMs: 5000})
      expect(ready.health).to.equal('none')
      expect(runtime.probes).to.equal(0)
    })

    it('a container that exits: CONTAINER_EXITED (32) at once, with its exit code and last log lines', async () => {
      const runtime = scripted([info({}), info({exitCode: 3, running: false, status: 'exited'})], notReady)
      const error = await failure(waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 60_000}))
      expect(error.exit).to.equal(ExitCode.CONTAINER_EXITED)
      expect(error.message).to.match(/exited with code 3/)
      expect(error.details).to.include('line two')
      expect(error.details).to.include('not ready: no heartbeat')
    })

    it('a crash the restart policy already undid (restart count went up) is a crash too, not "unhealthy"', async () => {
      const runtime = scripted([info({}), info({health: 'unhealthy', restartCount: 1})], notReady)
      const error = await failure(waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 60_000}))
      expect(error.exit).to.equal(ExitCode.CONTAINER_EXITED)
      const restarting = scripted([info({}), info({exitCode: 3, running: false, status: 'restarting'})], notReady)
      const again = await failure(waitUntilReady(restarting, 'c1', {hasHealthcheck: true, signal, timeoutMs: 60_000}))
      expect(again.exit).to.equal(ExitCode.CONTAINER_EXITED)
      expect(again.message).to.match(/exited with code 3/)
    })

    it('an already-running container with earlier restarts is judged from where it is now', async () => {
      const runtime = scripted([info({health: 'healthy', restartCount: 4})], notReady)
      expect((await waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 5000})).health).to.equal(
        'healthy',
      )
    })

    it('OOM-killed: says so', async () => {
      const runtime = scripted([info({exitCode: 137, oomKilled: true, running: false, status: 'exited'})], notReady)
      const error = await failure(waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 60_000}))
      expect(error.message).to.match(/out of memory/)
    })

    it('the engine reports unhealthy (after its own schedule could): CONTAINER_UNHEALTHY (30) at once', async () => {
      const startedAt = new Date(Date.now() - 120_000).toISOString()
      const runtime = scripted(
        [
          info({
            health: 'unhealthy',
            healthLog: [{end: '', exitCode: 1, output: 'probe said no', start: ''}],
            startedAt,
          }),
        ],
        notReady,
      )
      const error = await failure(waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 60_000}))
      expect(error.exit).to.equal(ExitCode.CONTAINER_UNHEALTHY)
    })

    it('"unhealthy" right after the start (Podman records our own quick probes) is no verdict: probing goes on', async () => {
      let n = 0
      const fresh = info({
        health: 'unhealthy',
        healthcheck: {intervalMs: 30_000, retries: 3, test: ['CMD', 'true']},
        startedAt: new Date().toISOString(),
      })
      const runtime = scripted([fresh], () => (++n < 5 ? notReady() : {exitCode: 0, output: 'ok', status: 'healthy'}))
      const ready = await waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 10_000})
      expect(ready.health).to.equal('healthy')
      expect(runtime.probes).to.equal(5)
    })

    it('never ready: START_TIMEOUT (31) after the timeout, with the last probe output', async () => {
      const runtime = scripted([info({})], notReady)
      const error = await failure(waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 400}))
      expect(error.exit).to.equal(ExitCode.START_TIMEOUT)
      expect(error.details).to.include('not ready: no heartbeat at /tmp/agent-runner.ready')
    })

    it('the container disappears: CONTAINER_EXITED', async () => {
      const runtime = scripted([undefined as unknown as ContainerInfo], notReady)
      const error = await failure(waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal, timeoutMs: 5000}))
      expect(error.exit).to.equal(ExitCode.CONTAINER_EXITED)
    })

    it('Ctrl-C (the signal aborts): InterruptedError (130)', async () => {
      const controller = new AbortController()
      const runtime = scripted([info({})], () => {
        controller.abort()
        return notReady()
      })
      const error = await failure(
        waitUntilReady(runtime, 'c1', {hasHealthcheck: true, signal: controller.signal, timeoutMs: 60_000}),
      )
      expect(error).to.be.instanceOf(InterruptedError)
      expect(error.exit).to.equal(130)
    })
  })
})

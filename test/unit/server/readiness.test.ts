import {expect} from 'chai'

import type {ContainerInfo, ContainerRuntime, HealthcheckRunResult, LogLine} from '../../../src/engine/types.js'

import {InterruptedError, StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {HEAVY_PROBE_MS, judgeHealth, nextProbeInMs, waitUntilReady} from '../../../src/server/readiness.js'
import {rejectionOf} from '../../helpers/rejection.js'

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

describe('server readiness', () => {
  describe('judgeHealth: the one rule for "healthy" (server start and server status)', () => {
    const pass = {exitCode: 0, status: 'healthy'} as const
    const fail = {exitCode: 1, status: 'unhealthy'} as const

    it('without a health check: healthy while it runs, health "none"', () => {
      expect(judgeHealth({engineHealth: 'none', hasHealthcheck: false, running: true})).to.deep.equal({
        health: 'none',
        healthy: true,
      })
      expect(judgeHealth({engineHealth: 'none', hasHealthcheck: false, running: false}).healthy).to.equal(false)
    })

    it("a check run just now wins over the engine's last verdict, both ways", () => {
      expect(judgeHealth({engineHealth: 'healthy', hasHealthcheck: true, probe: fail, running: true})).to.deep.equal({
        health: 'unhealthy',
        healthy: false,
      })
      expect(judgeHealth({engineHealth: 'unhealthy', hasHealthcheck: true, probe: pass, running: true})).to.deep.equal({
        health: 'healthy',
        healthy: true,
      })
      // Podman may still say "starting" for a check that exited 0: it passed.
      expect(
        judgeHealth({
          engineHealth: 'starting',
          hasHealthcheck: true,
          probe: {exitCode: 0, status: 'starting'},
          running: true,
        }),
      ).to.deep.equal({health: 'healthy', healthy: true})
    })

    it("without a check run, the engine's verdict; never healthy when not running", () => {
      expect(judgeHealth({engineHealth: 'healthy', hasHealthcheck: true, running: true}).healthy).to.equal(true)
      expect(judgeHealth({engineHealth: 'starting', hasHealthcheck: true, running: true})).to.deep.equal({
        health: 'starting',
        healthy: false,
      })
      expect(judgeHealth({engineHealth: 'healthy', hasHealthcheck: true, running: false})).to.deep.equal({
        health: 'healthy',
        healthy: false,
      })
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

/**
 * The engine stops in the middle of a command: `server start`, `server logs -f`, `image pull`.
 * Each must end with exit 11 and a clear message, and leave no lock behind.
 *
 * The shared lab daemons are never stopped: the tests run Podman through a private
 * `podman system service` on a socket of their own (same storage as the lab's Podman, as any
 * second Podman client has), and kill that process under the running command. Docker is not
 * covered here: a second dockerd would need its own data root, bridge and iptables setup.
 */
import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import type {ContainerRuntime} from '../../src/engine/types.js'

import {requireEngines, runCli, sleep, stigmerHome, tempDir, uniqueName, useCleanup, waitFor} from '../helpers/lab.js'
import {
  atEnd,
  clearManagedContainer,
  engineEnv,
  engineRuntime,
  type FixtureImages,
  fixtureImages,
  loginToLab,
  pushToLab,
  startCli,
  throttledRegistry,
  uniqueLayerImage,
  useLabTemporal,
} from '../helpers/server-images.js'

/** A private Podman API service this test starts, and stops under a running command. */
interface PrivateService {
  readonly url: string
  /** Stops it the way a crash or `kill -9` does; resolves once the process is gone. */
  stop(): Promise<void>
}

async function privatePodmanService(): Promise<PrivateService> {
  const dir = tempDir('private-podman')
  const socket = join(dir, 'podman.sock')
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    stdio: 'ignore',
  })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }

  atEnd(stop)
  await waitFor('the private Podman socket', () => existsSync(socket), {timeoutMs: 30_000})
  return {stop, url: `unix://${socket}`}
}

function lockLeft(home: string): boolean {
  return existsSync(join(home, 'state', 'server.lock'))
}

describe('the engine stops in the middle of a command (Podman, a private API service)', function () {
  useLabTemporal()
  this.timeout(300_000)
  requireEngines(['podman'])
  useCleanup()

  let runtime: ContainerRuntime
  let images: FixtureImages

  before(async function () {
    this.timeout(600_000)
    runtime = engineRuntime('podman')
    images = await fixtureImages('podman')
    await clearManagedContainer('podman', 30_000)
  })

  afterEach(async () => {
    // A container the private service started is still there (Podman containers outlive the API service).
    await clearManagedContainer('podman')
  })

  const privateEnv = (service: PrivateService, home: string) => ({
    ...engineEnv('podman'),
    CONTAINER_HOST: service.url,
    STIGMER_HOME: home,
  })

  it('server start: exit 11 naming Podman while it waits for readiness; no lock left; the container it made is named', async () => {
    const service = await privatePodmanService()
    const home = stigmerHome()
    const child = startCli(
      ['server', 'start', '--runtime', 'podman', '--image', images.v1, '--env', 'FIXTURE_NEVER_READY=1'],
      {env: privateEnv(service, home), timeoutMs: 120_000},
    )
    await child.waitForOutput(/Wait until ready/, 90_000)
    await sleep(1000)
    const stoppedAt = Date.now()
    await service.stop()
    const result = await child.done
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(11)
    expect(Date.now() - stoppedAt, 'it ended soon after the engine stopped').to.be.lessThan(20_000)
    expect(result.stderr)
      .to.contain('Podman stopped answering while starting the agent-runner')
      .and.match(/The container [\da-f]{12} it had created could not be removed/)
      .and.not.contain('looks like a bug')
    expect(lockLeft(home)).to.equal(false)
  })

  it('server logs -f: exit 11 when the engine stops, not a wait that never ends', async () => {
    const home = stigmerHome()
    const started = await runCli(['server', 'start', '--runtime', 'podman', '--image', images.v1, '--json'], {
      env: {...engineEnv('podman'), STIGMER_HOME: home},
      timeoutMs: 150_000,
    })
    expect(started.code, started.stderr).to.equal(0)
    const service = await privatePodmanService()
    const child = startCli(['server', 'logs', '-f', '--runtime', 'podman'], {
      env: privateEnv(service, home),
      timeoutMs: 60_000,
    })
    await sleep(3000)
    const stoppedAt = Date.now()
    await service.stop()
    const result = await child.done
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(11)
    expect(Date.now() - stoppedAt).to.be.lessThan(15_000)
    expect(result.stderr).to.contain('Podman stopped answering while following the logs of stigmer-agent-runner')
  })

  it('image pull: exit 11 when the engine stops mid-pull, not 21 "check your network" after retries', async function () {
    this.timeout(300_000)
    const local = await uniqueLayerImage('podman', 16 * 1024 * 1024)
    const path = `${uniqueName('stops')}/agent-runner:v1`
    const pushed = await pushToLab('podman', local, path)
    await runtime.removeImage(pushed, {force: true})
    await runtime.removeImage(local, {force: true})
    const proxy = await throttledRegistry(256 * 1024)
    atEnd(() => proxy.close())
    const ref = `${proxy.host}/${path}`
    atEnd(async () => {
      await runtime.removeImage(ref, {force: true}).catch(() => {})
    })
    const {env} = await loginToLab('podman', [proxy.host])
    const service = await privatePodmanService()
    const home = stigmerHome()
    const child = startCli(['image', 'pull', '--runtime', 'podman', '--image', ref], {
      env: {...privateEnv(service, home), ...env},
      timeoutMs: 120_000,
    })
    const deadline = Date.now() + 60_000
    while (proxy.sent() < 512 * 1024 && Date.now() < deadline) await sleep(100)
    expect(proxy.sent(), 'the pull was under way').to.be.greaterThan(256 * 1024)
    await service.stop()
    const result = await child.done
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(11)
    expect(result.stderr).to.contain(`Podman stopped answering while pulling ${ref}`).and.not.contain('retrying')
  })
})

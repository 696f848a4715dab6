import {expect} from 'chai'

import type {ContainerRuntime, Endpoint} from '../../../src/adapters/types.js'
import type {ProbeResult, ProbeState} from '../../../src/detection/probe.js'
import type {Candidate, MachineView} from '../../../src/detection/strategies.js'
import type {RuntimeContext, RuntimeProvider} from '../../../src/runtimes.js'

import {detect, detectionFailure, type DetectionResult, resolveRequested} from '../../../src/detection/detect.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {BUILTIN_PROVIDERS} from '../../../src/runtimes.js'
import {fakeMachine} from './fake-machine.js'

type ProbeTable = Record<string, ProbeState | ProbeResult>

/** A probe that answers from a table (url -> state); anything not listed is absent. Records what it probed. */
function fakeProbe(table: ProbeTable) {
  const probed: string[] = []
  const probe = async (ep: Endpoint): Promise<ProbeResult> => {
    probed.push(ep.url)
    const entry = table[ep.url] ?? 'absent'
    if (typeof entry !== 'string') return entry
    const detail = {
      absent: 'no socket',
      error: 'broken',
      ok: 'answers',
      permission: `permission denied on ${ep.url}`,
      refused: 'connection refused',
      timeout: 'no answer',
      unprobed: 'later',
    }[entry]
    return {detail, ms: 1, state: entry}
  }

  return {probe, probed}
}

interface FakeProviderOptions {
  readonly candidates: ReadonlyArray<Partial<Candidate> & {url: string}>
  readonly installed?: boolean
  readonly spawn?: (candidate: Candidate) => Promise<void>
}

function fakeProvider(name: string, options: FakeProviderOptions): RuntimeProvider & {created: Endpoint[]} {
  const created: Endpoint[] = []
  const provider: RuntimeProvider & {created: Endpoint[]} = {
    cli: name,
    async create(endpoint) {
      created.push(endpoint)
      return {name} as unknown as ContainerRuntime
    },
    created,
    displayName: name[0]!.toUpperCase() + name.slice(1),
    installHints: () => [`install ${name}`],
    installed: () => options.installed ?? false,
    name,
    permissionHints: (_platform, socket) => [`fix permissions of ${socket} for ${name}`],
    startHints: () => [`start ${name}`],
    strategies: () => [
      {
        candidates: () =>
          options.candidates.map((c) => ({
            endpoint: {source: c.endpoint?.source ?? `${name} socket`, url: c.url},
            explicit: c.explicit ?? false,
            runtime: name,
            ...(c.spawnable ? {spawnable: true} : {}),
          })),
        name: `${name} sockets`,
        runtime: name,
      },
    ],
    ...(options.spawn ? {spawn: options.spawn} : {}),
  }
  return provider
}

const ctx = (machine: MachineView = fakeMachine()): RuntimeContext => ({machine, runDir: '/home/ann/.stigmer/run'})

const DOCKER_SOCK = 'unix:///var/run/docker.sock'
const PODMAN_SOCK = 'unix:///run/podman/podman.sock'

function twoEngines(extra: {docker?: Partial<FakeProviderOptions>; podman?: Partial<FakeProviderOptions>} = {}) {
  const docker = fakeProvider('docker', {candidates: [{url: DOCKER_SOCK}], ...extra.docker})
  const podman = fakeProvider('podman', {candidates: [{url: PODMAN_SOCK}], ...extra.podman})
  return {docker, podman, providers: [docker, podman]}
}

function failureOf(
  result: DetectionResult,
  providers: readonly RuntimeProvider[],
  machine?: MachineView,
): StigmerError {
  expect(result.chosen, 'nothing should have been chosen').to.equal(undefined)
  return detectionFailure(result, providers, ctx(machine))
}

describe('engine detection', () => {
  describe('detect()', () => {
    it('chooses Docker when both answer (Docker first, then Podman)', async () => {
      const {providers} = twoEngines()
      const {probe} = fakeProbe({[DOCKER_SOCK]: 'ok', [PODMAN_SOCK]: 'ok'})
      const result = await detect({ctx: ctx(), probe, providers})
      expect(result.provider?.name).to.equal('docker')
      expect(result.chosen?.candidate.endpoint.url).to.equal(DOCKER_SOCK)
      expect(result.choiceSource).to.equal('auto')
    })

    it('falls back to Podman when Docker does not answer', async () => {
      const {providers} = twoEngines()
      const {probe} = fakeProbe({[DOCKER_SOCK]: 'absent', [PODMAN_SOCK]: 'ok'})
      const result = await detect({ctx: ctx(), probe, providers})
      expect(result.provider?.name).to.equal('podman')
      expect(result.reports.map((r) => [r.provider, r.probe.state])).to.deep.equal([
        ['docker', 'absent'],
        ['podman', 'ok'],
      ])
    })

    it('an explicit choice wins even when another engine answers first', async () => {
      const {providers} = twoEngines()
      const {probe, probed} = fakeProbe({[DOCKER_SOCK]: 'ok', [PODMAN_SOCK]: 'ok'})
      const result = await detect({ctx: ctx(), probe, providers, requested: {name: 'Podman', source: '--runtime'}})
      expect(result.provider?.name).to.equal('podman')
      expect(result.choiceSource).to.equal('--runtime')
      expect(result.requested).to.equal('Podman')
      expect(probed).to.not.include(DOCKER_SOCK)
    })

    it('an explicit choice that does not answer fails instead of quietly using the other engine', async () => {
      const {providers} = twoEngines({podman: {installed: true}})
      const {probe} = fakeProbe({[DOCKER_SOCK]: 'ok', [PODMAN_SOCK]: 'refused'})
      const result = await detect({
        ctx: ctx(),
        probe,
        providers,
        requested: {name: 'podman', source: 'STIGMER_CONTAINER_RUNTIME'},
      })
      const error = failureOf(result, providers)
      expect(error.exit).to.equal(ExitCode.RUNTIME_UNREACHABLE)
      expect(error.message).to.contain('Podman').and.contain('chosen by STIGMER_CONTAINER_RUNTIME')
    })

    it('an unknown runtime name is a usage error listing the known ones', async () => {
      const {providers} = twoEngines()
      let caught: unknown
      try {
        await detect({
          ctx: ctx(),
          probe: fakeProbe({}).probe,
          providers,
          requested: {name: 'bogus', source: '--runtime'},
        })
      } catch (error) {
        caught = error
      }

      expect(caught).to.be.instanceOf(StigmerError)
      expect((caught as StigmerError).exit).to.equal(ExitCode.USAGE)
      expect((caught as StigmerError).message)
        .to.contain('"bogus"')
        .and.contain('--runtime')
      expect((caught as StigmerError).suggestions.join(' ')).to.contain('docker, podman')
      expect(() => resolveRequested(' DOCKER ', providers, 'config')).to.not.throw()
    })

    it("DOCKER_HOST (an explicit candidate) replaces Docker's default sockets", async () => {
      const docker = fakeProvider('docker', {
        candidates: [{explicit: true, url: 'tcp://10.0.0.5:2375'}, {url: DOCKER_SOCK}],
      })
      const podman = fakeProvider('podman', {candidates: [{url: PODMAN_SOCK}]})
      const {probe, probed} = fakeProbe({[DOCKER_SOCK]: 'ok', [PODMAN_SOCK]: 'ok', 'tcp://10.0.0.5:2375': 'refused'})
      const result = await detect({ctx: ctx(), probe, providers: [docker, podman]})
      expect(probed).to.not.include(DOCKER_SOCK)
      // Docker at DOCKER_HOST is down: Podman answers, so it is used; the report says why Docker was not.
      expect(result.provider?.name).to.equal('podman')
      expect(result.reports[0]).to.deep.include({provider: 'docker', usable: false})
      expect(result.reports[0]!.candidate.explicit).to.equal(true)
    })

    it("a Podman socket found where Docker's should be is used as Podman", async () => {
      const {providers} = twoEngines()
      const {probe} = fakeProbe({[DOCKER_SOCK]: {detail: 'answers', engine: 'podman', ms: 1, state: 'ok'}})
      const result = await detect({ctx: ctx(), probe, providers})
      expect(result.chosen?.identifiedAs).to.equal('podman')
      expect(result.provider?.name).to.equal('podman')
    })

    it('starts a helper service for a spawnable candidate only when nothing else answered', async () => {
      const spawned: string[] = []
      let up = false
      const podman = fakeProvider('podman', {
        candidates: [{url: PODMAN_SOCK}, {spawnable: true, url: 'unix:///home/ann/.stigmer/run/podman.sock'}],
        async spawn(candidate) {
          spawned.push(candidate.endpoint.url)
          up = true
        },
      })
      const docker = fakeProvider('docker', {candidates: [{url: DOCKER_SOCK}]})
      const probe = async (ep: Endpoint): Promise<ProbeResult> =>
        ep.url.includes('.stigmer') && up
          ? {detail: 'answers', ms: 1, state: 'ok'}
          : {detail: 'no socket', ms: 1, state: 'absent'}
      const result = await detect({ctx: ctx(), probe, providers: [docker, podman]})
      expect(spawned).to.deep.equal(['unix:///home/ann/.stigmer/run/podman.sock'])
      expect(result.provider?.name).to.equal('podman')
      expect(result.chosen?.candidate.spawnable).to.equal(true)
    })

    it('does not spawn when allowSpawn is false, nor when an engine already answered (exhaustive mode)', async () => {
      let spawns = 0
      const make = () =>
        fakeProvider('podman', {
          candidates: [{spawnable: true, url: 'unix:///run/stigmer/podman.sock'}],
          async spawn() {
            spawns++
          },
        })
      const docker = fakeProvider('docker', {candidates: [{url: DOCKER_SOCK}]})
      const {probe} = fakeProbe({[DOCKER_SOCK]: 'ok'})
      await detect({
        allowSpawn: false,
        ctx: ctx(),
        probe,
        providers: [docker, make()],
        requested: {name: 'podman', source: '--runtime'},
      })
      const exhaustive = await detect({ctx: ctx(), exhaustive: true, probe, providers: [docker, make()]})
      expect(spawns).to.equal(0)
      expect(exhaustive.reports.at(-1)!.probe).to.deep.include({
        detail: 'not needed: another engine answered',
        state: 'unprobed',
      })
    })

    it('a helper service that fails to start is reported, not thrown', async () => {
      const podman = fakeProvider('podman', {
        candidates: [{spawnable: true, url: 'unix:///run/stigmer/podman.sock'}],
        installed: true,
        async spawn() {
          throw new Error('podman system service exited with code 125')
        },
      })
      const result = await detect({ctx: ctx(), probe: fakeProbe({}).probe, providers: [podman]})
      expect(result.chosen).to.equal(undefined)
      expect(result.reports[0]!.probe.detail).to.contain(
        'could not start it: podman system service exited with code 125',
      )
      expect(detectionFailure(result, [podman], ctx()).exit).to.equal(ExitCode.RUNTIME_UNREACHABLE)
    })
  })

  describe('detectionFailure(): the three ways of not finding an engine', () => {
    it('nothing installed, nothing answering: NO_RUNTIME (exit 10) with install hints for every runtime', async () => {
      const {providers} = twoEngines()
      const result = await detect({ctx: ctx(), probe: fakeProbe({}).probe, providers})
      const error = failureOf(result, providers)
      expect(error.exit).to.equal(ExitCode.NO_RUNTIME).and.equal(10)
      expect(error.code).to.equal('NO_RUNTIME')
      expect(error.message).to.equal(
        'No container engine found: stigmer needs Docker or Podman to run the agent-runner.',
      )
      expect(error.suggestions).to.deep.equal(['install docker', 'install podman'])
    })

    it('installed but not running (refused, or binary on PATH and no socket): RUNTIME_UNREACHABLE (exit 11) with start hints', async () => {
      const refused = twoEngines()
      const r1 = await detect({
        ctx: ctx(),
        probe: fakeProbe({[DOCKER_SOCK]: 'refused'}).probe,
        providers: refused.providers,
      })
      const e1 = failureOf(r1, refused.providers)
      expect(e1.exit).to.equal(ExitCode.RUNTIME_UNREACHABLE).and.equal(11)
      expect(e1.message)
        .to.contain('Docker is installed but not running')
        .and.contain(DOCKER_SOCK)
        .and.contain('connection refused')
      expect(e1.suggestions).to.deep.equal(['start docker'])

      const binaryOnly = twoEngines({podman: {installed: true}})
      const r2 = await detect({ctx: ctx(), probe: fakeProbe({}).probe, providers: binaryOnly.providers})
      const e2 = failureOf(r2, binaryOnly.providers)
      expect(e2.exit).to.equal(11)
      expect(e2.message).to.match(/^Podman is installed but not running/)
    })

    it('permission denied on a socket: RUNTIME_PERMISSION (exit 12) naming the socket, with permission hints', async () => {
      const {providers} = twoEngines()
      const result = await detect({ctx: ctx(), probe: fakeProbe({[DOCKER_SOCK]: 'permission'}).probe, providers})
      const error = failureOf(result, providers)
      expect(error.exit).to.equal(ExitCode.RUNTIME_PERMISSION).and.equal(12)
      expect(error.message).to.equal('Permission denied on /var/run/docker.sock: this user may not use Docker.')
      expect(error.suggestions).to.deep.equal(['fix permissions of /var/run/docker.sock for docker'])
    })

    it('permission wins over "not running" when both happen', async () => {
      const {providers} = twoEngines()
      const result = await detect({
        ctx: ctx(),
        probe: fakeProbe({[DOCKER_SOCK]: 'refused', [PODMAN_SOCK]: 'permission'}).probe,
        providers,
      })
      expect(failureOf(result, providers).exit).to.equal(12)
    })

    it('every failure lists what was probed (for --json and doctor)', async () => {
      const {providers} = twoEngines()
      const result = await detect({ctx: ctx(), probe: fakeProbe({[DOCKER_SOCK]: 'refused'}).probe, providers})
      const error = failureOf(result, providers)
      expect(error.data?.probed).to.deep.equal([
        {
          detail: 'connection refused',
          endpoint: DOCKER_SOCK,
          runtime: 'docker',
          source: 'docker socket',
          state: 'refused',
        },
        {detail: 'no socket', endpoint: PODMAN_SOCK, runtime: 'podman', source: 'podman socket', state: 'absent'},
      ])
      expect(error.details).to.contain(`docker: ${DOCKER_SOCK}`)
    })

    describe('with the real providers on a described machine', () => {
      const bare = fakeMachine({bins: [], env: {}, homedir: '/home/ann', platform: 'linux', uid: 1000})

      it('Linux with nothing installed: exit 10, hints name Docker Desktop and `apt install podman`', async () => {
        const result = await detect({ctx: ctx(bare), probe: fakeProbe({}).probe, providers: BUILTIN_PROVIDERS})
        const error = failureOf(result, BUILTIN_PROVIDERS, bare)
        expect(error.exit).to.equal(10)
        const hints = error.suggestions.join('\n')
        expect(hints)
          .to.contain('Docker Desktop')
          .and.contain('apt install podman')
          .and.contain('apt install docker.io')
        // Nothing installed: no podman service was offered, so nothing tried to spawn one.
        expect(result.reports.some((r) => r.candidate.spawnable)).to.equal(false)
      })

      it('macOS with nothing installed: Docker Desktop and brew install podman', async () => {
        const mac = fakeMachine({homedir: '/Users/ann', platform: 'darwin', uid: 501})
        const result = await detect({ctx: ctx(mac), probe: fakeProbe({}).probe, providers: BUILTIN_PROVIDERS})
        const hints = failureOf(result, BUILTIN_PROVIDERS, mac).suggestions.join('\n')
        expect(hints)
          .to.contain('Docker Desktop: https://www.docker.com/products/docker-desktop/')
          .and.contain('brew install podman')
      })

      it('Linux, docker group missing: exit 12 suggests usermod -aG docker', async () => {
        const m = fakeMachine({bins: ['docker'], platform: 'linux', uid: 1000})
        const result = await detect({
          ctx: ctx(m),
          probe: fakeProbe({[DOCKER_SOCK]: 'permission'}).probe,
          providers: BUILTIN_PROVIDERS,
        })
        const error = failureOf(result, BUILTIN_PROVIDERS, m)
        expect(error.exit).to.equal(12)
        expect(error.suggestions.join('\n')).to.contain('usermod -aG docker')
      })

      it('Linux, docker binary on PATH but no daemon: exit 11 suggests systemctl start docker', async () => {
        const m = fakeMachine({bins: ['docker'], platform: 'linux', uid: 1000})
        const result = await detect({ctx: ctx(m), probe: fakeProbe({}).probe, providers: BUILTIN_PROVIDERS})
        const error = failureOf(result, BUILTIN_PROVIDERS, m)
        expect(error.exit).to.equal(11)
        expect(error.suggestions.join('\n')).to.contain('systemctl start docker')
      })
    })
  })
})

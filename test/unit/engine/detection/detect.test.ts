import {expect} from 'chai'

import type {RuntimeContext, RuntimeProvider} from '../../../../src/adapters/providers.js'
import type {ProbeResult, ProbeState} from '../../../../src/engine/detection/probe.js'
import type {Candidate, MachineView} from '../../../../src/engine/detection/strategies.js'
import type {ContainerRuntime, Endpoint} from '../../../../src/engine/types.js'

import {BUILTIN_PROVIDERS} from '../../../../src/adapters/providers.js'
import {
  detect,
  detectionFailure,
  type DetectionResult,
  resolveRequested,
} from '../../../../src/engine/detection/detect.js'
import {StigmerError} from '../../../../src/lib/errors.js'
import {ExitCode} from '../../../../src/lib/exit-codes.js'
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
  /** Docker's and Podman's sockets stand in for each other; the ping's headers tell which answers. */
  readonly identifiedByPing?: boolean
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
    ...(options.identifiedByPing ? {identifiedByPing: true} : {}),
  }
  return provider
}

const ctx = (machine: MachineView = fakeMachine()): RuntimeContext => ({machine, runDir: '/home/ann/.stigmer/run'})

const DOCKER_SOCK = 'unix:///var/run/docker.sock'
const PODMAN_SOCK = 'unix:///run/podman/podman.sock'

function twoEngines(extra: {docker?: Partial<FakeProviderOptions>; podman?: Partial<FakeProviderOptions>} = {}) {
  const docker = fakeProvider('docker', {candidates: [{url: DOCKER_SOCK}], identifiedByPing: true, ...extra.docker})
  const podman = fakeProvider('podman', {candidates: [{url: PODMAN_SOCK}], identifiedByPing: true, ...extra.podman})
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

    it("DOCKER_HOST (an explicit candidate) replaces Docker's default sockets, and Podman is not tried in its place", async () => {
      const docker = fakeProvider('docker', {
        candidates: [{explicit: true, url: 'tcp://10.0.0.5:2375'}, {url: DOCKER_SOCK}],
      })
      const podman = fakeProvider('podman', {candidates: [{url: PODMAN_SOCK}]})
      const {probe, probed} = fakeProbe({[DOCKER_SOCK]: 'ok', [PODMAN_SOCK]: 'ok', 'tcp://10.0.0.5:2375': 'refused'})
      const result = await detect({ctx: ctx(), probe, providers: [docker, podman]})
      expect(probed).to.deep.equal(['tcp://10.0.0.5:2375'])
      expect(result.chosen).to.equal(undefined)
      expect(result.choiceSource).to.equal('docker socket')
      expect(result.named).to.deep.equal({runtime: 'docker', source: 'docker socket', url: 'tcp://10.0.0.5:2375'})
      const error = detectionFailure(result, [docker, podman], ctx())
      expect(error.exit).to.equal(ExitCode.RUNTIME_UNREACHABLE)
      expect(error.message).to.contain('tcp://10.0.0.5:2375').and.contain('does not switch to another engine')
    })

    it('a named endpoint that answers is chosen by its source, not "auto"', async () => {
      const docker = fakeProvider('docker', {candidates: [{url: DOCKER_SOCK}]})
      const podman = fakeProvider('podman', {
        candidates: [
          {endpoint: {source: 'CONTAINER_HOST', url: 'unix:///tmp/p.sock'}, explicit: true, url: 'unix:///tmp/p.sock'},
        ],
      })
      const {probe, probed} = fakeProbe({[DOCKER_SOCK]: 'ok', 'unix:///tmp/p.sock': 'ok'})
      const result = await detect({ctx: ctx(), probe, providers: [docker, podman]})
      // CONTAINER_HOST named Podman: Docker's default socket is not even probed.
      expect(probed).to.deep.equal(['unix:///tmp/p.sock'])
      expect(result.provider?.name).to.equal('podman')
      expect(result.choiceSource).to.equal('CONTAINER_HOST')
    })

    it('exhaustive mode (doctor) lists what else answers, but never chooses it instead of a named endpoint', async () => {
      let spawns = 0
      const docker = fakeProvider('docker', {
        candidates: [
          {endpoint: {source: 'DOCKER_HOST', url: 'unix:///nonexistent'}, explicit: true, url: 'unix:///nonexistent'},
        ],
      })
      const podman = fakeProvider('podman', {
        candidates: [{url: PODMAN_SOCK}, {spawnable: true, url: 'unix:///run/stigmer/podman.sock'}],
        async spawn() {
          spawns++
        },
      })
      const {probe} = fakeProbe({[PODMAN_SOCK]: 'ok'})
      const result = await detect({ctx: ctx(), exhaustive: true, probe, providers: [docker, podman]})
      expect(result.chosen).to.equal(undefined)
      expect(spawns).to.equal(0)
      expect(result.reports.map((r) => [r.candidate.endpoint.url, r.probe.state, r.eligible])).to.deep.equal([
        ['unix:///nonexistent', 'absent', true],
        [PODMAN_SOCK, 'ok', false],
        ['unix:///run/stigmer/podman.sock', 'unprobed', false],
      ])
      expect(result.reports[1]!.probe.detail).to.contain('not considered: DOCKER_HOST names the engine to use')
      const error = detectionFailure(result, [docker, podman], ctx())
      expect(error.exit).to.equal(11)
      expect(error.message).to.contain('unix:///nonexistent (from DOCKER_HOST) does not answer')
      expect(error.suggestions.join('\n'))
        .to.contain('unset DOCKER_HOST')
        .and.contain(`Podman answers at ${PODMAN_SOCK}`)
        .and.contain('--runtime podman')
    })

    it("of two named endpoints the first (Docker's) decides; the second is not tried in its place", async () => {
      const docker = fakeProvider('docker', {
        candidates: [
          {endpoint: {source: 'DOCKER_HOST', url: 'tcp://10.0.0.5:2375'}, explicit: true, url: 'tcp://10.0.0.5:2375'},
        ],
      })
      const podman = fakeProvider('podman', {
        candidates: [
          {endpoint: {source: 'CONTAINER_HOST', url: 'unix:///tmp/p.sock'}, explicit: true, url: 'unix:///tmp/p.sock'},
        ],
      })
      const {probe, probed} = fakeProbe({'tcp://10.0.0.5:2375': 'timeout', 'unix:///tmp/p.sock': 'ok'})
      const result = await detect({ctx: ctx(), probe, providers: [docker, podman]})
      expect(probed).to.deep.equal(['tcp://10.0.0.5:2375'])
      expect(detectionFailure(result, [docker, podman], ctx()).exit).to.equal(11)
      // Asking for Podman by name uses CONTAINER_HOST.
      const podmanOnly = await detect({
        ctx: ctx(),
        probe,
        providers: [docker, podman],
        requested: {name: 'podman', source: '--runtime'},
      })
      expect(podmanOnly.provider?.name).to.equal('podman')
    })

    it("a Podman socket found where Docker's should be is used as Podman", async () => {
      const {providers} = twoEngines()
      const {probe} = fakeProbe({[DOCKER_SOCK]: {detail: 'answers', engine: 'podman', ms: 1, state: 'ok'}})
      const result = await detect({ctx: ctx(), probe, providers})
      expect(result.chosen?.identifiedAs).to.equal('podman')
      expect(result.provider?.name).to.equal('podman')
    })

    it('a plugin engine that speaks the Docker API at its own socket stays that engine', async () => {
      const {providers} = twoEngines()
      const nerd = fakeProvider('nerd', {candidates: [{url: 'unix:///run/nerd.sock'}]})
      const {probe} = fakeProbe({'unix:///run/nerd.sock': {detail: 'answers', engine: 'docker', ms: 1, state: 'ok'}})
      const result = await detect({ctx: ctx(), probe, providers: [...providers, nerd]})
      expect(result.chosen?.identifiedAs).to.equal('nerd')
      expect(result.provider?.name).to.equal('nerd')
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

      for (const [variable, value] of [
        ['DOCKER_HOST', 'unix:///nonexistent'],
        ['DOCKER_HOST', 'tcp://256.1.1.1:2375'],
        ['DOCKER_HOST', 'ssh://nobody@127.0.0.1'],
      ] as const) {
        it(`Linux, ${variable}=${value} does not answer while Podman does: exit 11 naming it, Podman is not used`, async () => {
          const m = fakeMachine({
            bins: ['docker', 'podman'],
            env: {[variable]: value},
            paths: ['/run/podman/podman.sock', '/var/run/docker.sock'],
            platform: 'linux',
            uid: 0,
          })
          const {probe, probed} = fakeProbe({[DOCKER_SOCK]: 'ok', [PODMAN_SOCK]: 'ok', [value]: 'refused'})
          const result = await detect({ctx: ctx(m), probe, providers: BUILTIN_PROVIDERS})
          expect(probed).to.deep.equal([value])
          const error = failureOf(result, BUILTIN_PROVIDERS, m)
          expect(error.exit).to.equal(ExitCode.RUNTIME_UNREACHABLE)
          expect(error.code).to.equal('RUNTIME_UNREACHABLE')
          expect(error.message).to.contain(`${value} (from ${variable}) does not answer`)
          expect(error.suggestions.join('\n')).to.contain(`unset ${variable}`)
        })
      }

      it('Linux, CONTAINER_HOST does not answer while Docker does: exit 11, and no podman service is started', async () => {
        const m = fakeMachine({
          bins: ['docker', 'podman'],
          env: {CONTAINER_HOST: 'unix:///run/user/1000/podman/podman.sock'},
          platform: 'linux',
          uid: 1000,
        })
        let spawned = false
        const podman = {
          ...BUILTIN_PROVIDERS[1]!,
          async spawn() {
            spawned = true
          },
        }
        const providers = [BUILTIN_PROVIDERS[0]!, podman]
        const {probe, probed} = fakeProbe({[DOCKER_SOCK]: 'ok'})
        const result = await detect({ctx: ctx(m), probe, providers})
        expect(spawned).to.equal(false)
        expect(probed).to.deep.equal(['unix:///run/user/1000/podman/podman.sock'])
        const error = failureOf(result, providers, m)
        expect(error.exit).to.equal(11)
        expect(error.message).to.contain('(from CONTAINER_HOST) does not answer')
      })

      it('macOS, the current docker context does not answer while Docker Desktop does: exit 11 naming the context', async () => {
        const {createHash} = await import('node:crypto')
        const id = createHash('sha256').update('colima').digest('hex')
        const m = fakeMachine({
          files: {
            '/Users/ann/.docker/config.json': JSON.stringify({currentContext: 'colima'}),
            [`/Users/ann/.docker/contexts/meta/${id}/meta.json`]: JSON.stringify({
              Endpoints: {docker: {Host: 'unix:///Users/ann/.colima/default/docker.sock'}},
            }),
          },
          homedir: '/Users/ann',
          platform: 'darwin',
          uid: 501,
        })
        const desktop = 'unix:///Users/ann/.docker/run/docker.sock'
        const {probe, probed} = fakeProbe({[desktop]: 'ok'})
        const result = await detect({ctx: ctx(m), probe, providers: BUILTIN_PROVIDERS})
        expect(probed).to.deep.equal(['unix:///Users/ann/.colima/default/docker.sock'])
        const error = failureOf(result, BUILTIN_PROVIDERS, m)
        expect(error.exit).to.equal(11)
        expect(error.message).to.contain('(from docker context "colima") does not answer')
        expect(error.suggestions.join('\n')).to.contain('docker context use default')
      })

      it('DOCKER_HOST wins over the current docker context, as with the docker CLI', async () => {
        const {createHash} = await import('node:crypto')
        const id = createHash('sha256').update('colima').digest('hex')
        const m = fakeMachine({
          env: {DOCKER_HOST: 'tcp://10.0.0.5:2375'},
          files: {
            '/home/ann/.docker/config.json': JSON.stringify({currentContext: 'colima'}),
            [`/home/ann/.docker/contexts/meta/${id}/meta.json`]: JSON.stringify({
              Endpoints: {docker: {Host: 'unix:///home/ann/.colima/default/docker.sock'}},
            }),
          },
        })
        const {probe, probed} = fakeProbe({'unix:///home/ann/.colima/default/docker.sock': 'ok'})
        const result = await detect({ctx: ctx(m), probe, providers: BUILTIN_PROVIDERS})
        expect(probed).to.deep.equal(['tcp://10.0.0.5:2375'])
        expect(result.chosen).to.equal(undefined)
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

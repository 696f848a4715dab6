import {expect} from 'chai'

import type {CandidateReport} from '../../../src/engine/detection/detect.js'
import type {MachineView} from '../../../src/engine/detection/strategies.js'
import type {EngineInfo, ImageInfo} from '../../../src/engine/types.js'

import {DOCKER_CAPABILITIES, PODMAN_CAPABILITIES} from '../../../src/adapters/capabilities.js'
import {BUILTIN_PROVIDERS} from '../../../src/adapters/providers.js'
import {
  type CheckResult,
  choiceReason,
  configCheck,
  diskCheck,
  endpointVariableCheck,
  engineCheck,
  engineInfoCheck,
  exitCodeOf,
  formatMode,
  imageCheck,
  networkCheck,
  rememberedCheck,
  socketAccessVia,
  socketCheck,
  temporalCheck,
  verdictOf,
  workspaceCheck,
} from '../../../src/doctor/checks.js'
import {detect, detectionFailure} from '../../../src/engine/detection/detect.js'
import {resolveImage} from '../../../src/image/resolution.js'
import {StigmerError, usageError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {formatBytes} from '../../../src/lib/format.js'
import {parseHostPort} from '../../../src/lib/tcp.js'

const report = (url: string, source: string, extra: Partial<CandidateReport> = {}): CandidateReport => ({
  candidate: {endpoint: {source, url}, explicit: false, runtime: 'docker'},
  eligible: true,
  identifiedAs: 'docker',
  probe: {detail: 'answers', ms: 3, state: 'ok'},
  provider: 'docker',
  strategy: 'Docker sockets',
  usable: true,
  ...extra,
})

const dockerInfo: EngineInfo = {
  apiVersion: '1.45',
  arch: 'amd64',
  dataRoot: '/var/lib/docker',
  endpoint: {source: 'default socket', url: 'unix:///var/run/docker.sock'},
  inVm: false,
  name: 'Docker Engine - Community',
  os: 'linux',
  rootless: false,
  runtime: 'docker',
  securityOptions: [],
  version: '27.1.0',
}

/** A machine with nothing on it: no sockets, no binaries. */
function emptyMachine(platform: NodeJS.Platform, extra: Partial<MachineView> = {}): MachineView {
  return {
    env: {},
    exists: () => false,
    homedir: platform === 'darwin' ? '/Users/ann' : '/home/ann',
    platform,
    readFile: () => undefined as string | undefined,
    uid: platform === 'win32' ? undefined : 1001,
    which: () => undefined as string | undefined,
    ...extra,
  }
}

describe('doctor checks', () => {
  describe('configCheck', () => {
    it('no file is fine', () => {
      const c = configCheck({exists: false, file: '/h/.stigmer/config.yaml'})
      expect(c).to.include({id: 'config', status: 'ok'})
      expect(c.detail).to.match(/no config file.*defaults apply/)
    })

    it('names the keys a valid file sets', () => {
      const c = configCheck({config: {runtime: 'podman', workspace: '/w'}, exists: true, file: '/c.yaml'})
      expect(c.status).to.equal('ok')
      expect(c.detail).to.equal('/c.yaml is valid (sets runtime, workspace)')
    })

    it('an invalid file fails with the CONFIG exit code and the fix', () => {
      const error = new StigmerError('The config file /c.yaml is invalid: unknown key "foo".', {
        code: 'CONFIG',
        exit: ExitCode.CONFIG,
        suggestions: ['Fix or remove /c.yaml'],
      })
      const c = configCheck({error, exists: true, file: '/c.yaml'})
      expect(c).to.include({exit: ExitCode.CONFIG, hint: 'Fix or remove /c.yaml', status: 'fail'})
    })
  })

  describe('engineCheck', () => {
    it('chosen automatically, naming the other usable engine', () => {
      const c = engineCheck({
        alsoUsable: ['Podman'],
        reason: {kind: 'detected'},
        displayName: 'Docker',
        kind: 'chosen',
        report: report('unix:///var/run/docker.sock', 'default socket'),
      })
      expect(c.status).to.equal('ok')
      expect(c.detail).to.match(/^Docker at unix:\/\/\/var\/run\/docker.sock \(default socket\), chosen automatically/)
      expect(c.detail).to.match(/Podman also answers/)
    })

    it('chosen by the environment', () => {
      expect(choiceReason({kind: 'env', variable: 'STIGMER_CONTAINER_RUNTIME'}, 'Podman', [])).to.equal(
        'chosen by STIGMER_CONTAINER_RUNTIME',
      )
      expect(choiceReason({file: '/home/ann/.stigmer/config.yaml', kind: 'config'}, 'Podman', [])).to.equal(
        'chosen by runtime in /home/ann/.stigmer/config.yaml',
      )
    })

    it('chosen automatically among plugin runtimes: says so, and names the plugin', () => {
      expect(choiceReason({kind: 'plugin', plugin: 'stigmer-plugin-nerd'}, 'nerdctl', [])).to.equal(
        'chosen automatically: Docker is tried first, then Podman, then the runtimes plugins add, and nerdctl (from the plugin stigmer-plugin-nerd) answered',
      )
    })

    it('would start podman system service: a warning, not a failure', () => {
      const r = report('unix:///home/ann/.stigmer/run/podman.sock', 'podman system service started by stigmer', {
        candidate: {
          endpoint: {
            source: 'podman system service started by stigmer',
            url: 'unix:///home/ann/.stigmer/run/podman.sock',
          },
          explicit: false,
          runtime: 'podman',
          spawnable: true,
        },
        probe: {detail: 'no socket', ms: 0, state: 'unprobed'},
        provider: 'podman',
        usable: false,
      })
      const c = engineCheck({kind: 'would-start', reason: {kind: 'detected'}, podmanPath: '/usr/bin/podman', report: r})
      expect(c.status).to.equal('warn')
      expect(c.detail).to.match(
        /would start `podman system service` on \/home\/ann\/.stigmer\/run\/podman.sock \(podman: \/usr\/bin\/podman\)/,
      )
      expect(c.exit).to.equal(undefined)
    })

    it('nothing installed: fails with NO_RUNTIME and the install hints (real detection on an empty machine)', async () => {
      for (const platform of ['linux', 'darwin'] as const) {
        const ctx = {machine: emptyMachine(platform), runDir: '/tmp/none'}

        const result = await detect({allowSpawn: false, ctx, exhaustive: true, providers: BUILTIN_PROVIDERS})
        const c = engineCheck({failure: detectionFailure(result, BUILTIN_PROVIDERS, ctx), kind: 'none'})
        expect(c.status).to.equal('fail')
        expect(c.exit).to.equal(ExitCode.NO_RUNTIME)
        expect(c.hint).to.match(
          platform === 'darwin'
            ? /Docker Desktop[\s\S]*brew install podman/
            : /apt install podman[\s\S]*dnf install podman/,
        )
      }
    })

    it('a usage error (unknown --runtime) fails with USAGE', () => {
      const c = engineCheck({
        failure: usageError('Unknown container runtime "dockr" (from --runtime).', ['Use one of: docker, podman.']),
        kind: 'none',
      })
      expect(c).to.include({exit: ExitCode.USAGE, status: 'fail'})
    })

    it('a malformed DOCKER_HOST that the choice does not depend on is a warning', () => {
      const c = endpointVariableCheck(usageError('DOCKER_HOST="x" is not a valid engine endpoint: it has no scheme.'))
      expect(c).to.include({id: 'engine-endpoint', status: 'warn'})
    })
  })

  describe('engineInfoCheck', () => {
    it('describes the engine', () => {
      const c = engineInfoCheck({displayName: 'Docker', info: dockerInfo})
      expect(c.status).to.equal('ok')
      expect(c.detail).to.equal(
        'Docker Engine - Community 27.1.0 (API 1.45), linux/amd64, rootful, engine runs on this machine',
      )
    })

    it('says rootless and VM', () => {
      const c = engineInfoCheck({
        displayName: 'Podman',
        info: {...dockerInfo, inVm: true, name: 'Podman Engine', rootless: true, runtime: 'podman'},
      })
      expect(c.detail).to.match(/rootless, engine runs in a VM$/)
    })

    it('an engine that pings but does not answer /info fails as unreachable', () => {
      const c = engineInfoCheck({displayName: 'Docker', error: new Error('Docker did not answer within 2000 ms')})
      expect(c).to.include({exit: ExitCode.RUNTIME_UNREACHABLE, status: 'fail'})
    })

    it('skipped when there is no engine', () => {
      expect(engineInfoCheck({displayName: 'the engine', skipped: 'no engine was chosen'}).status).to.equal('warn')
    })
  })

  describe('sockets', () => {
    it('formats modes like ls', () => {
      expect(formatMode(0o14_0660)).to.equal('srw-rw----')
      expect(formatMode(0o14_0600)).to.equal('srw-------')
      expect(formatMode(0o04_0755)).to.equal('drwxr-xr-x')
    })

    const docker = {gid: 998, groupName: 'docker', mode: 0o14_0660, uid: 0}
    const cases: Array<[string, {gids: number[]; uid: number | undefined}, typeof docker, string | undefined]> = [
      ['root', {gids: [0], uid: 0}, docker, 'as root'],
      ['a member of the docker group', {gids: [1001, 998], uid: 1001}, docker, 'through group docker'],
      ['a user outside the group', {gids: [1001], uid: 1001}, docker, undefined],
      [
        'the owner of a rootless socket',
        {gids: [1001], uid: 1001},
        {gid: 1001, groupName: 'ann', mode: 0o14_0600, uid: 1001},
        'as its owner',
      ],
      ['anyone, on a world-writable socket', {gids: [5], uid: 5}, {...docker, mode: 0o14_0666}, 'as anyone may'],
    ]
    for (const [name, user, facts, expected] of cases) {
      it(`access: ${name}`, () => expect(socketAccessVia(facts, user)).to.equal(expected))
    }

    it('a socket this user cannot open: warn when an engine is usable, fail (exit 12) otherwise', () => {
      const facts = {...docker, accessible: false, isSocket: true, ownerName: 'root', path: '/var/run/docker.sock'}
      const input = {
        facts,
        permissionHints: ['sudo usermod -aG docker "$USER"'],
        runtime: 'Docker',
        user: {gids: [1001], uid: 1001},
      }
      const warn = socketCheck({...input, engineUsable: true})
      expect(warn).to.include({id: 'socket:/var/run/docker.sock', status: 'warn'})
      expect(warn.detail).to.equal(
        'srw-rw---- root:docker; you (uid 1001) cannot open it (you are not in group docker)',
      )
      const fail = socketCheck({...input, engineUsable: false})
      expect(fail).to.include({
        exit: ExitCode.RUNTIME_PERMISSION,
        hint: 'sudo usermod -aG docker "$USER"',
        status: 'fail',
      })
    })

    it('a root-only socket says only its owner may open it', () => {
      const facts = {
        accessible: false,
        gid: 0,
        groupName: 'root',
        isSocket: true,
        mode: 0o14_0600,
        ownerName: 'root',
        path: '/run/podman/podman.sock',
        uid: 0,
      }
      const c = socketCheck({
        engineUsable: true,
        facts,
        permissionHints: [],
        runtime: 'Podman',
        user: {gids: [1001], uid: 1001},
      })
      expect(c.detail).to.match(/only its owner, root, may open it/)
    })

    it('an accessible socket is ok and says how', () => {
      const facts = {...docker, accessible: true, isSocket: true, path: '/var/run/docker.sock'}
      const c = socketCheck({
        engineUsable: true,
        facts,
        permissionHints: [],
        runtime: 'Docker',
        user: {gids: [998], uid: 1001},
      })
      expect(c.status).to.equal('ok')
      expect(c.detail).to.match(/can open it through group docker$/)
    })
  })

  describe('diskCheck', () => {
    it('plenty of space', () => {
      const c = diskCheck({
        facts: {freeBytes: 80e9, measured: '/var/lib/docker', path: '/var/lib/docker', totalBytes: 250e9},
        where: 'where Docker keeps images',
      })
      expect(c.status).to.equal('ok')
      expect(c.detail).to.equal('80.0 GB free of 250 GB at /var/lib/docker, where Docker keeps images')
    })

    it('low space warns', () => {
      const c = diskCheck({
        facts: {freeBytes: 0.5e9, measured: '/', path: '/var/lib/containers/storage', totalBytes: 20e9},
        where: 'x',
      })
      expect(c.status).to.equal('warn')
      expect(c.detail).to.match(/measured at \/\)/)
      expect(c.hint).to.match(/image prune/)
    })

    it('cannot measure: warns', () => {
      expect(diskCheck({error: new Error('ENOENT'), where: 'x'}).status).to.equal('warn')
    })

    it('formats bytes', () => {
      expect(formatBytes(999)).to.equal('999 B')
      expect(formatBytes(1_234_567)).to.equal('1.2 MB')
    })
  })

  describe('networkCheck', () => {
    it('Linux, local engine: host networking, ok', () => {
      const c = networkCheck({
        capabilities: DOCKER_CAPABILITIES,
        info: dockerInfo,
        platform: 'linux',
        runtime: 'docker',
        temporalAddress: 'localhost:7233',
      })
      expect(c).to.include({mode: 'host', status: 'ok'})
      expect(c.detail).to.match(/behaves as on Linux; server start would use host networking/)
    })

    it('macOS Docker Desktop: bridge, with the rewritten Temporal address and the extra host', () => {
      const c = networkCheck({
        capabilities: DOCKER_CAPABILITIES,
        info: {...dockerInfo, inVm: true, name: 'Docker Desktop'},
        platform: 'darwin',
        runtime: 'docker',
        temporalAddress: 'localhost:7233',
      })
      expect(c).to.include({mode: 'bridge', status: 'ok'})
      expect(c.detail).to.match(/does not reach this machine/)
      expect(c.detail).to.match(
        /localhost:7233 becomes host.docker.internal:7233 \(with --add-host host.docker.internal:host-gateway\)/,
      )
    })

    it('Podman machine: bridge through host.containers.internal', () => {
      const c = networkCheck({
        capabilities: PODMAN_CAPABILITIES,
        info: {inVm: true, name: 'Podman Engine', rootless: true},
        platform: 'darwin',
        runtime: 'podman',
        temporalAddress: '127.0.0.1:7233',
      })
      expect(c.mode).to.equal('bridge')
      expect(c.detail).to.match(/127.0.0.1:7233 becomes host.containers.internal:7233$/)
    })

    it('network from the config file wins, and a caveat makes it a warning', () => {
      const c = networkCheck({
        capabilities: DOCKER_CAPABILITIES,
        info: {...dockerInfo, inVm: true},
        platform: 'darwin',
        requested: 'host',
        requestedSource: 'network in config.yaml',
        runtime: 'docker',
        temporalAddress: 'localhost:7233',
      })
      expect(c).to.include({mode: 'host', status: 'warn'})
      expect(c.reason).to.match(/network in config.yaml/)
    })

    it('without an engine it guesses from the platform, as a warning', () => {
      const c = networkCheck({capabilities: DOCKER_CAPABILITIES, platform: 'linux', temporalAddress: 'localhost:7233'})
      expect(c).to.include({mode: 'host', status: 'warn'})
      expect(c.detail).to.match(/^no engine to ask/)
    })
  })

  describe('workspaceCheck', () => {
    it('exists and writable', () => {
      const c = workspaceCheck(
        {exists: true, isDirectory: true, ownerUid: 1001, path: '/h/.stigmer/data/workspace', writable: true},
        {source: 'default', uid: 1001},
      )
      expect(c).to.include({detail: '/h/.stigmer/data/workspace exists and is writable', status: 'ok'})
    })

    it('missing but creatable', () => {
      const c = workspaceCheck(
        {exists: false, nearestExisting: '/h', nearestWritable: true, path: '/h/.stigmer/data/workspace'},
        {source: 'default', uid: 1001},
      )
      expect(c.status).to.equal('ok')
      expect(c.detail).to.match(/does not exist yet; server start will create it/)
    })

    it('missing and not creatable: fails with WORKSPACE', () => {
      const c = workspaceCheck(
        {exists: false, nearestExisting: '/srv', nearestWritable: false, path: '/srv/ws'},
        {source: 'workspace in /c.yaml', uid: 1001},
      )
      expect(c).to.include({exit: ExitCode.WORKSPACE, status: 'fail'})
      expect(c.detail).to.match(/\/srv\/ws \(from workspace in \/c.yaml\) does not exist and cannot be created/)
    })

    it('owned by root (an engine created it): fails, with the chown fix', () => {
      const c = workspaceCheck(
        {
          exists: true,
          isDirectory: true,
          ownerUid: 0,
          path: '/h/ws',
          writable: false,
          writeError: 'EACCES: permission denied',
        },
        {source: 'default', uid: 1001},
      )
      expect(c).to.include({exit: ExitCode.WORKSPACE, status: 'fail'})
      expect(c.detail).to.match(/owned by root/)
      expect(c.hint).to.match(/chown/)
    })

    it('a file where the folder should be: fails', () => {
      expect(
        workspaceCheck({exists: true, isDirectory: false, path: '/h/ws'}, {source: 'default', uid: 1001}).status,
      ).to.equal('fail')
    })

    it('writable but owned by someone else: warns', () => {
      const c = workspaceCheck(
        {exists: true, isDirectory: true, ownerUid: 1000, path: '/h/ws', writable: true},
        {source: 'default', uid: 1001},
      )
      expect(c.status).to.equal('warn')
    })

    it("root: the default workspace owned by the image's user is what server start does, not a warning; a folder root named still warns", () => {
      const handed = workspaceCheck(
        {exists: true, isDirectory: true, ownerUid: 1000, path: '/root/.stigmer/data/workspace', writable: true},
        {source: 'default', uid: 0},
      )
      expect(handed.status).to.equal('ok')
      expect(handed.detail).to.match(/owned by uid 1000: as root, server start hands its default workspace/)
      const named = workspaceCheck(
        {exists: true, isDirectory: true, ownerUid: 1234, path: '/srv/ws', writable: true},
        {source: 'workspace in /c.yaml', uid: 0},
      )
      expect(named.status).to.equal('warn')
    })
  })

  describe('Temporal', () => {
    const cases: Array<[string, {host: string; port: number} | undefined]> = [
      ['localhost:7233', {host: 'localhost', port: 7233}],
      ['temporal.internal', {host: 'temporal.internal', port: 7233}],
      ['[::1]:7300', {host: '::1', port: 7300}],
      ['::1', {host: '::1', port: 7233}],
      ['http://user@10.0.0.2:7233/x', {host: '10.0.0.2', port: 7233}],
      ['dns:///temporal:7233', {host: 'temporal', port: 7233}],
      ['localhost:99999', undefined],
      ['localhost:abc', undefined],
      ['', undefined],
    ]
    for (const [input, expected] of cases) {
      it(`parses ${JSON.stringify(input)}`, () => expect(parseHostPort(input, 7233)).to.deep.equal(expected))
    }

    it('answers: ok', () => {
      const c = temporalCheck({
        address: 'localhost:7233',
        probe: {detail: 'Temporal 1.25.0', ms: 2, ok: true},
        source: 'default',
      })
      expect(c).to.include({
        detail: 'Temporal 1.25.0 at localhost:7233 (the default) (gRPC GetSystemInfo, 2 ms)',
        status: 'ok',
      })
    })

    it('does not answer: a warning (server start only warns), with how to start it', () => {
      const c = temporalCheck({
        address: 'localhost:7233',
        probe: {detail: 'connection refused', ms: 1, ok: false},
        source: 'TEMPORAL_SERVICE_ADDRESS',
      })
      expect(c.status).to.equal('warn')
      expect(c.detail).to.match(/from TEMPORAL_SERVICE_ADDRESS\): connection refused/)
      expect(c.hint).to.match(/temporal server start-dev/)
    })
  })

  describe('imageCheck', () => {
    const image = resolveImage({cliVersion: '1.2.3', env: {}})
    const present: ImageInfo = {
      architecture: 'amd64',
      created: '',
      digests: [],
      id: 'sha256:0123456789abcdef0123',
      labels: {},
      os: 'linux',
      size: 512e6,
      tags: [],
      user: '',
    }

    it('present', () => {
      const c = imageCheck({displayName: 'Docker', image, present})
      expect(c.status).to.equal('ok')
      expect(c.detail).to.equal(
        'ghcr.io/stigmer/agent-runner:v1.2.3 (pinned to this CLI version) is present in Docker (0123456789ab, 512 MB, linux/amd64)',
      )
    })

    it("absent: a warning with stigmer's own pull command (never an engine command)", () => {
      const c = imageCheck({displayName: 'Podman', image, present: null, runtime: 'podman'})
      expect(c.status).to.equal('warn')
      expect(c.hint).to.equal('To fetch it now: stigmer image pull --runtime podman')
    })

    it('an override names its source and the pinned image', () => {
      const c = imageCheck({
        displayName: 'Docker',
        image: resolveImage({cliVersion: '1.2.3', env: {STIGMER_AGENT_RUNNER_IMAGE: 'localhost:5000/ar:dev'}}),
        present: null,
      })
      expect(c.detail).to.match(
        /localhost:5000\/ar:dev \(from STIGMER_AGENT_RUNNER_IMAGE; this CLI pins ghcr.io\/stigmer\/agent-runner:v1.2.3\)/,
      )
    })
  })

  describe('rememberedCheck', () => {
    const state = {
      cliVersion: '1',
      containerId: 'c',
      containerName: 'stigmer-agent-runner',
      endpoint: 'unix:///run/podman/podman.sock',
      image: 'i',
      network: 'host',
      networkReason: 'r',
      runtime: 'podman',
      startedAt: '',
      workspace: '/w',
    }

    it('ok when that engine answers', () => expect(rememberedCheck(state, ['docker', 'podman']).status).to.equal('ok'))

    it('warns when it does not', () => expect(rememberedCheck(state, ['docker']).status).to.equal('warn'))
  })

  describe('verdict and exit code', () => {
    const ok: CheckResult = {detail: '', id: 'disk', status: 'ok', title: ''}
    const warn: CheckResult = {detail: '', id: 'temporal', status: 'warn', title: ''}
    const fail = (id: string, exit: number): CheckResult => ({detail: '', exit, id, status: 'fail', title: ''})

    it('all ok: ok, 0', () => {
      expect(verdictOf([ok])).to.equal('ok')
      expect(exitCodeOf([ok])).to.equal(0)
    })

    it('warnings do not change the exit code', () => {
      expect(verdictOf([ok, warn])).to.equal('warn')
      expect(exitCodeOf([ok, warn])).to.equal(0)
    })

    it('the engine failure wins over the others', () => {
      const checks = [
        fail('config', ExitCode.CONFIG),
        fail('workspace', ExitCode.WORKSPACE),
        fail('socket:/var/run/docker.sock', ExitCode.RUNTIME_PERMISSION),
        fail('engine', ExitCode.NO_RUNTIME),
      ]
      expect(verdictOf(checks)).to.equal('fail')
      expect(exitCodeOf(checks)).to.equal(ExitCode.NO_RUNTIME)
    })

    it('then engine version, socket, config, workspace', () => {
      expect(exitCodeOf([fail('workspace', 41), fail('config', 50)])).to.equal(50)
      expect(exitCodeOf([fail('workspace', 41), fail('socket:/x', 12)])).to.equal(12)
      expect(exitCodeOf([fail('socket:/x', 12), fail('engine-info', 11)])).to.equal(11)
      expect(exitCodeOf([fail('workspace', 41)])).to.equal(41)
    })
  })
})

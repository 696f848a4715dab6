import {expect} from 'chai'
import {createHash} from 'node:crypto'

import type {Candidate, MachineView, Strategy} from '../../../../src/engine/detection/strategies.js'

import {dockerProvider, podmanProvider} from '../../../../src/adapters/providers.js'
import {parseEndpointUrl} from '../../../../src/engine/detection/endpoint.js'
import {
  dockerContext,
  dockerHostEnv,
  dockerSockets,
  podmanHostEnv,
  podmanService,
  podmanSockets,
} from '../../../../src/engine/detection/strategies.js'
import {StigmerError} from '../../../../src/lib/errors.js'
import {ExitCode} from '../../../../src/lib/exit-codes.js'
import {fakeMachine} from './fake-machine.js'

const urls = (candidates: Candidate[]) => candidates.map((c) => c.endpoint.url)

/** Every candidate the built-in providers would try, in order. */
function allCandidates(machine: MachineView, runDir = '/home/ann/.stigmer/run'): Candidate[] {
  const ctx = {machine, runDir}
  return [dockerProvider, podmanProvider].flatMap((p) =>
    p.strategies(ctx).flatMap((s: Strategy) => s.candidates(machine)),
  )
}

function expectUsageError(fn: () => unknown, mentions: RegExp): StigmerError {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }

  expect(caught, 'expected a usage error').to.be.instanceOf(StigmerError)
  const error = caught as StigmerError
  expect(error.code).to.equal('USAGE')
  expect(error.exit).to.equal(ExitCode.USAGE)
  expect(error.message).to.match(mentions)
  return error
}

/** Docker stores a context's metadata under the sha256 of its name. */
function id(name: string): string {
  return createHash('sha256').update(name).digest('hex')
}

function meta(host: string): string {
  return JSON.stringify({Endpoints: {docker: {Host: host, SkipTLSVerify: false}}, Metadata: {}, Name: 'x'})
}

describe('detection strategies', () => {
  describe('macOS with Docker Desktop', () => {
    const mac = fakeMachine({bins: ['docker'], homedir: '/Users/ann', platform: 'darwin', uid: 501})

    it("tries Docker Desktop's per-user socket first, then /var/run/docker.sock, then Colima, OrbStack, Rancher", () => {
      const candidates = dockerSockets.candidates(mac)
      expect(urls(candidates)).to.deep.equal([
        'unix:///Users/ann/.docker/run/docker.sock',
        'unix:///var/run/docker.sock',
        'unix:///Users/ann/.colima/default/docker.sock',
        'unix:///Users/ann/.colima/docker.sock',
        'unix:///Users/ann/.orbstack/run/docker.sock',
        'unix:///Users/ann/.rd/docker.sock',
      ])
      expect(candidates[0]!.endpoint.source).to.equal('Docker Desktop')
      expect(candidates.every((c) => !c.explicit && c.runtime === 'docker')).to.equal(true)
    })

    it('looks for the Podman machine socket under XDG_DATA_HOME or ~/.local/share', () => {
      expect(urls(podmanSockets.candidates(mac))[0]).to.equal(
        'unix:///Users/ann/.local/share/containers/podman/machine/podman.sock',
      )
      const xdg = fakeMachine({env: {XDG_DATA_HOME: '/data'}, homedir: '/Users/ann', platform: 'darwin'})
      expect(urls(podmanSockets.candidates(xdg))[0]).to.equal('unix:///data/containers/podman/machine/podman.sock')
    })

    it('never offers to start a podman service on macOS (the machine VM has the socket)', () => {
      const withPodman = fakeMachine({bins: ['podman'], homedir: '/Users/ann', platform: 'darwin'})
      expect(podmanService('/tmp/run').candidates(withPodman)).to.deep.equal([])
    })
  })

  describe('Linux, rootful', () => {
    const root = fakeMachine({bins: ['docker', 'podman'], homedir: '/root', platform: 'linux', uid: 0})

    it('tries /var/run/docker.sock first', () => {
      expect(urls(dockerSockets.candidates(root))[0]).to.equal('unix:///var/run/docker.sock')
      expect(dockerSockets.candidates(root)[0]!.endpoint.source).to.equal('default socket')
    })

    it('root uses the rootful Podman socket only', () => {
      expect(urls(podmanSockets.candidates(root))).to.deep.equal(['unix:///run/podman/podman.sock'])
    })

    it("puts the whole order together: Docker sockets, then Podman sockets, then a podman service of stigmer's own", () => {
      const all = allCandidates(root, '/root/.stigmer/run')
      expect(all[0]!.endpoint.url).to.equal('unix:///var/run/docker.sock')
      const firstPodman = all.findIndex((c) => c.runtime === 'podman')
      expect(all.slice(0, firstPodman).every((c) => c.runtime === 'docker')).to.equal(true)
      expect(all.at(-1)).to.deep.include({runtime: 'podman', spawnable: true})
      expect(all.at(-1)!.endpoint.url).to.equal('unix:///root/.stigmer/run/podman.sock')
    })
  })

  describe('Linux, rootless', () => {
    it('uses XDG_RUNTIME_DIR for rootless Docker and rootless Podman, before the rootful Podman socket', () => {
      const m = fakeMachine({env: {XDG_RUNTIME_DIR: '/run/user/1000'}, uid: 1000})
      const docker = dockerSockets.candidates(m)
      expect(urls(docker)).to.include('unix:///run/user/1000/docker.sock')
      expect(docker.find((c) => c.endpoint.url === 'unix:///run/user/1000/docker.sock')!.endpoint.source).to.equal(
        'rootless Docker',
      )
      expect(urls(docker)).to.include('unix:///home/ann/.docker/desktop/docker.sock')
      expect(urls(podmanSockets.candidates(m))).to.deep.equal([
        'unix:///run/user/1000/podman/podman.sock',
        'unix:///run/podman/podman.sock',
      ])
    })

    it('falls back to /run/user/<uid> when XDG_RUNTIME_DIR is unset or empty', () => {
      for (const env of [{}, {XDG_RUNTIME_DIR: ''}]) {
        const m = fakeMachine({env, uid: 1234})
        expect(urls(podmanSockets.candidates(m))[0]).to.equal('unix:///run/user/1234/podman/podman.sock')
        expect(urls(dockerSockets.candidates(m))).to.include('unix:///run/user/1234/docker.sock')
      }
    })
  })

  describe('Windows and WSL', () => {
    it("Windows: Docker Desktop's and Podman machine's named pipes, which parse as npipe endpoints", () => {
      const win = fakeMachine({homedir: 'C:\\Users\\ann', platform: 'win32', uid: undefined})
      const docker = dockerSockets.candidates(win)
      expect(urls(docker)).to.deep.equal(['npipe:////./pipe/docker_engine'])
      expect(urls(podmanSockets.candidates(win))).to.deep.equal(['npipe:////./pipe/podman-machine-default'])
      expect(parseEndpointUrl(docker[0]!.endpoint.url)).to.deep.equal({
        protocol: 'npipe',
        socketPath: '\\\\.\\pipe\\docker_engine',
      })
      expect(podmanService('C:\\run').candidates(fakeMachine({bins: ['podman'], platform: 'win32'}))).to.deep.equal([])
    })

    it("WSL is Linux: Docker Desktop's WSL integration socket at /var/run/docker.sock, no named pipes", () => {
      const wsl = fakeMachine({
        bins: ['docker'],
        env: {WSL_DISTRO_NAME: 'Ubuntu', WSL_INTEROP: '/run/WSL/1_interop'},
        platform: 'linux',
        uid: 1000,
      })
      const all = allCandidates(wsl)
      expect(all[0]!.endpoint.url).to.equal('unix:///var/run/docker.sock')
      expect(all.some((c) => c.endpoint.url.startsWith('npipe:'))).to.equal(false)
    })
  })

  describe('DOCKER_HOST', () => {
    it('is an explicit candidate, named after the variable', () => {
      const m = fakeMachine({env: {DOCKER_HOST: 'unix:///custom/docker.sock'}})
      expect(dockerHostEnv.candidates(m)).to.deep.equal([
        {endpoint: {source: 'DOCKER_HOST', url: 'unix:///custom/docker.sock'}, explicit: true, runtime: 'docker'},
      ])
    })

    it('tcp with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH gets the cert files from that folder', () => {
      const m = fakeMachine({
        env: {DOCKER_CERT_PATH: '/certs', DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1'},
      })
      const [c] = dockerHostEnv.candidates(m)
      expect(c!.endpoint.tls).to.deep.equal({
        ca: '/certs/ca.pem',
        cert: '/certs/cert.pem',
        key: '/certs/key.pem',
        verify: true,
      })
    })

    it('tcp with DOCKER_TLS_VERIFY alone reads certs from ~/.docker, as the docker CLI does', () => {
      const m = fakeMachine({env: {DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1'}})
      expect(dockerHostEnv.candidates(m)[0]!.endpoint.tls).to.deep.include({
        ca: '/home/ann/.docker/ca.pem',
        verify: true,
      })
    })

    it('tcp without TLS variables (or DOCKER_TLS_VERIFY=0) is plain TCP', () => {
      for (const env of [
        {DOCKER_HOST: 'tcp://10.0.0.5:2375'},
        {DOCKER_HOST: 'tcp://10.0.0.5:2375', DOCKER_TLS_VERIFY: '0'},
      ]) {
        expect(dockerHostEnv.candidates(fakeMachine({env}))[0]!.endpoint.tls).to.equal(undefined)
      }
    })

    it('DOCKER_CERT_PATH without DOCKER_TLS_VERIFY: TLS with the given certs but no server verification', () => {
      const m = fakeMachine({env: {DOCKER_CERT_PATH: '/certs', DOCKER_HOST: 'tcp://h:2376'}})
      expect(dockerHostEnv.candidates(m)[0]!.endpoint.tls).to.deep.include({verify: false})
    })

    it('an empty DOCKER_HOST is ignored (as if unset)', () => {
      expect(dockerHostEnv.candidates(fakeMachine({env: {DOCKER_HOST: '  '}}))).to.deep.equal([])
    })

    it('a malformed DOCKER_HOST is a usage error naming the variable and its value', () => {
      const error = expectUsageError(
        () => dockerHostEnv.candidates(fakeMachine({env: {DOCKER_HOST: 'tcp//oops'}})),
        /DOCKER_HOST="tcp\/\/oops"/,
      )
      expect(error.suggestions.join(' ')).to.match(/unix:\/\/\/.*tcp:\/\//)
    })

    it('a malformed DOCKER_HOST stops detection of every runtime, not only Docker', () => {
      expectUsageError(() => allCandidates(fakeMachine({env: {DOCKER_HOST: 'http://h:1'}})), /unknown scheme "http"/)
    })
  })

  describe('docker context', () => {
    it('reads currentContext from ~/.docker/config.json and its endpoint from meta/<sha256(name)>/meta.json', () => {
      const m = fakeMachine({
        files: {
          '/home/ann/.docker/config.json': JSON.stringify({currentContext: 'colima'}),
          [`/home/ann/.docker/contexts/meta/${id('colima')}/meta.json`]: meta(
            'unix:///home/ann/.colima/default/docker.sock',
          ),
        },
      })
      expect(dockerContext.candidates(m)).to.deep.equal([
        {
          endpoint: {source: 'docker context "colima"', url: 'unix:///home/ann/.colima/default/docker.sock'},
          explicit: true,
          runtime: 'docker',
        },
      ])
    })

    it('DOCKER_CONTEXT wins over config.json, and DOCKER_CONFIG moves the folder', () => {
      const m = fakeMachine({
        env: {DOCKER_CONFIG: '/cfg', DOCKER_CONTEXT: 'remote'},
        files: {
          '/cfg/config.json': JSON.stringify({currentContext: 'colima'}),
          [`/cfg/contexts/meta/${id('remote')}/meta.json`]: meta('tcp://build.example:2376'),
        },
        paths: [`/cfg/contexts/tls/${id('remote')}/docker`],
      })
      const [c] = dockerContext.candidates(m)
      expect(c!.endpoint.url).to.equal('tcp://build.example:2376')
      expect(c!.endpoint.tls).to.deep.equal({
        ca: `/cfg/contexts/tls/${id('remote')}/docker/ca.pem`,
        cert: `/cfg/contexts/tls/${id('remote')}/docker/cert.pem`,
        key: `/cfg/contexts/tls/${id('remote')}/docker/key.pem`,
        verify: true,
      })
    })

    it('the "default" context, a missing meta.json, or a broken config.json add nothing', () => {
      expect(dockerContext.candidates(fakeMachine({env: {DOCKER_CONTEXT: 'default'}}))).to.deep.equal([])
      expect(dockerContext.candidates(fakeMachine({env: {DOCKER_CONTEXT: 'gone'}}))).to.deep.equal([])
      expect(
        dockerContext.candidates(fakeMachine({files: {'/home/ann/.docker/config.json': '{not json'}})),
      ).to.deep.equal([])
    })

    it('a context whose host is malformed is a usage error naming the context', () => {
      const m = fakeMachine({
        env: {DOCKER_CONTEXT: 'bad'},
        files: {[`/home/ann/.docker/contexts/meta/${id('bad')}/meta.json`]: meta('bogus')},
      })
      expectUsageError(() => dockerContext.candidates(m), /docker context "bad"/)
    })
  })

  describe('CONTAINER_HOST', () => {
    it("is Podman's explicit endpoint", () => {
      const m = fakeMachine({env: {CONTAINER_HOST: 'unix:///run/user/1000/podman/podman.sock'}})
      expect(podmanHostEnv.candidates(m)).to.deep.equal([
        {
          endpoint: {source: 'CONTAINER_HOST', url: 'unix:///run/user/1000/podman/podman.sock'},
          explicit: true,
          runtime: 'podman',
        },
      ])
    })

    it('ssh:// is accepted; a malformed value is a usage error naming CONTAINER_HOST', () => {
      expect(
        urls(podmanHostEnv.candidates(fakeMachine({env: {CONTAINER_HOST: 'ssh://core@localhost:50123'}}))),
      ).to.deep.equal(['ssh://core@localhost:50123'])
      expectUsageError(
        () => podmanHostEnv.candidates(fakeMachine({env: {CONTAINER_HOST: 'unix://relative.sock'}})),
        /CONTAINER_HOST=/,
      )
    })
  })

  describe('podman system service', () => {
    it("is offered on Linux only when the podman binary is on PATH, as a spawnable socket in stigmer's run dir", () => {
      const strategy = podmanService('/home/ann/.stigmer/run')
      expect(strategy.candidates(fakeMachine({bins: []}))).to.deep.equal([])
      expect(strategy.candidates(fakeMachine({bins: ['docker']}))).to.deep.equal([])
      expect(strategy.candidates(fakeMachine({bins: ['podman']}))).to.deep.equal([
        {
          endpoint: {
            source: 'podman system service started by stigmer',
            url: 'unix:///home/ann/.stigmer/run/podman.sock',
          },
          explicit: false,
          runtime: 'podman',
          spawnable: true,
        },
      ])
    })
  })
})

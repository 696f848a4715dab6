import {expect} from 'chai'

import {DOCKER_CAPABILITIES, PODMAN_CAPABILITIES} from '../../../src/adapters/capabilities.js'
import {dockerProvider, podmanProvider} from '../../../src/adapters/providers.js'
import {capabilitiesOf} from '../../../src/engine/capabilities.js'
import {
  chooseNetworkMode,
  extraHostsFor,
  isLoopbackHost,
  type NetworkModeInput,
  rewriteHostAddress,
} from '../../../src/server/network.js'

describe('network-mode', () => {
  describe('chooseNetworkMode', () => {
    const cases: Array<{
      name: string
      input: NetworkModeInput
      mode: 'bridge' | 'host'
      reason: RegExp
      caveat?: RegExp
    }> = [
      {
        input: {
          engineInfo: {inVm: true, name: 'Docker Desktop', rootless: false, capabilities: DOCKER_CAPABILITIES},
          platform: 'darwin',
        },
        mode: 'bridge',
        name: 'macOS, Docker Desktop',
        reason: /Docker Desktop on macOS runs containers in a VM: host networking would not reach the host/,
      },
      {
        input: {engineInfo: {inVm: true, rootless: false, capabilities: DOCKER_CAPABILITIES}, platform: 'darwin'},
        mode: 'bridge',
        name: 'macOS, Colima (Docker API, no product name)',
        reason: /Colima.*would not reach the host/,
      },
      {
        input: {engineInfo: {inVm: false, rootless: false, capabilities: DOCKER_CAPABILITIES}, platform: 'linux'},
        mode: 'host',
        name: 'Linux, Docker Engine',
        reason: /^Linux: host networking reaches localhost:7233 and localhost:7234 directly$/,
      },
      {
        input: {engineInfo: {inVm: false, rootless: true, capabilities: PODMAN_CAPABILITIES}, platform: 'linux'},
        mode: 'host',
        name: 'Linux, rootless Podman',
        reason: /^Linux: host networking reaches localhost:7233 and localhost:7234 directly$/,
      },
      {
        caveat: /RootlessKit/,
        input: {engineInfo: {inVm: false, rootless: true, capabilities: DOCKER_CAPABILITIES}, platform: 'linux'},
        mode: 'host',
        name: 'Linux, rootless Docker (host, with a caveat)',
        reason: /^Linux: host networking/,
      },
      {
        input: {engineInfo: {inVm: true, rootless: true, capabilities: PODMAN_CAPABILITIES}, platform: 'darwin'},
        mode: 'bridge',
        name: 'macOS, Podman machine',
        reason: /Podman machine on macOS runs containers in a VM: host networking would not reach the host/,
      },
      {
        input: {engineInfo: {inVm: true, rootless: false, capabilities: PODMAN_CAPABILITIES}, platform: 'win32'},
        mode: 'bridge',
        name: 'Windows, Podman machine',
        reason: /Podman machine on Windows/,
      },
      {
        input: {engineInfo: {inVm: false, rootless: false, capabilities: DOCKER_CAPABILITIES}, platform: 'win32'},
        mode: 'bridge',
        name: 'Windows, even if the engine does not say it is in a VM',
        reason: /would not reach the host/,
      },
      {
        input: {
          engineInfo: {inVm: true, name: 'Docker Desktop', rootless: false, capabilities: DOCKER_CAPABILITIES},
          platform: 'linux',
        },
        mode: 'bridge',
        name: 'WSL with Docker Desktop integration (linux, engine in a VM)',
        reason: /^Docker Desktop runs containers in a VM/,
      },
      {
        input: {engineInfo: {inVm: false, rootless: false, capabilities: DOCKER_CAPABILITIES}, platform: 'linux'},
        mode: 'host',
        name: 'WSL with Docker Engine installed inside the distribution',
        reason: /^Linux: host networking/,
      },
      {
        caveat: /listen on an address the bridge reaches/,
        input: {
          engineInfo: {inVm: false, rootless: false, capabilities: DOCKER_CAPABILITIES},
          platform: 'linux',
          requested: 'bridge',
        },
        mode: 'bridge',
        name: 'explicit --network bridge on Linux',
        reason: /^bridge networking was asked for \(--network\)$/,
      },
      {
        caveat: /not reach services here/,
        input: {
          engineInfo: {inVm: true, rootless: false, capabilities: DOCKER_CAPABILITIES},
          platform: 'darwin',
          requested: 'host',
        },
        mode: 'host',
        name: 'explicit --network host on macOS wins, with a caveat',
        reason: /^host networking was asked for \(--network\)$/,
      },
      {
        input: {
          engineInfo: {inVm: true, rootless: false, capabilities: PODMAN_CAPABILITIES},
          platform: 'darwin',
          requested: 'bridge',
          requestedSource: 'network in config.yaml',
        },
        mode: 'bridge',
        name: 'explicit choice from the config file names its source',
        reason: /\(network in config\.yaml\)/,
      },
    ]
    for (const c of cases) {
      it(c.name, () => {
        const choice = chooseNetworkMode(c.input)
        expect(choice.mode).to.equal(c.mode)
        expect(choice.reason).to.match(c.reason)
        if (c.caveat) expect(choice.caveat).to.match(c.caveat)
        else expect(choice.caveat).to.equal(undefined)
      })
    }
  })

  describe('rewriteHostAddress', () => {
    const gw = 'host.docker.internal'
    const cases: Array<[string, string]> = [
      ['localhost:7233', 'host.docker.internal:7233'],
      ['LOCALHOST:7233', 'host.docker.internal:7233'],
      ['127.0.0.1:7234', 'host.docker.internal:7234'],
      ['127.0.1.1:7234', 'host.docker.internal:7234'],
      ['0.0.0.0:7233', 'host.docker.internal:7233'],
      ['localhost', 'host.docker.internal'],
      ['127.0.0.1', 'host.docker.internal'],
      ['::1', 'host.docker.internal'],
      ['[::1]', 'host.docker.internal'],
      ['[::1]:7233', 'host.docker.internal:7233'],
      ['http://localhost:11434/v1', 'http://host.docker.internal:11434/v1'],
      ['http://localhost:11434', 'http://host.docker.internal:11434'],
      ['http://localhost', 'http://host.docker.internal'],
      ['https://127.0.0.1/v1/chat?model=x#frag', 'https://host.docker.internal/v1/chat?model=x#frag'],
      ['http://user:secret@localhost:11434/v1', 'http://user:secret@host.docker.internal:11434/v1'],
      ['http://[::1]:11434/api', 'http://host.docker.internal:11434/api'],
      ['http://[0:0:0:0:0:0:0:1]:8080', 'http://host.docker.internal:8080'],
      ['http://0.0.0.0:8000/', 'http://host.docker.internal:8000/'],
      ['grpc://localhost:7233', 'grpc://host.docker.internal:7233'],
      ['dns:///localhost:7233', 'dns:///host.docker.internal:7233'],
      // untouched
      ['temporal.example.com:7233', 'temporal.example.com:7233'],
      ['https://api.openai.com/v1', 'https://api.openai.com/v1'],
      ['http://localhost.example.com:80/x', 'http://localhost.example.com:80/x'],
      ['http://mylocalhost:80', 'http://mylocalhost:80'],
      ['10.0.0.5:7233', '10.0.0.5:7233'],
      ['128.0.0.1:7233', '128.0.0.1:7233'],
      ['127.0.0.256:1', '127.0.0.256:1'],
      ['[fe80::1]:7233', '[fe80::1]:7233'],
      ['fe80::1', 'fe80::1'],
      ['http://example.com/redirect?to=http://localhost:1', 'http://example.com/redirect?to=http://localhost:1'],
      ['http://example.com/localhost:1', 'http://example.com/localhost:1'],
      ['unix:///var/run/docker.sock', 'unix:///var/run/docker.sock'],
      ['localhost:notaport', 'localhost:notaport'],
      ['', ''],
    ]
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => {
        expect(rewriteHostAddress(input, gw)).to.equal(expected)
      })
    }

    it('uses the gateway name it is given (Podman)', () => {
      expect(rewriteHostAddress('localhost:7233', 'host.containers.internal')).to.equal('host.containers.internal:7233')
    })

    it('is idempotent', () => {
      const once = rewriteHostAddress('http://localhost:11434/v1', gw)
      expect(rewriteHostAddress(once, gw)).to.equal(once)
    })
  })

  describe('isLoopbackHost', () => {
    for (const h of ['localhost', '127.0.0.1', '127.255.255.254', '::1', '0.0.0.0', '::']) {
      it(`${h} is this machine`, () => expect(isLoopbackHost(h)).to.equal(true))
    }

    for (const h of ['host.docker.internal', '192.168.1.1', '::2', 'localhost.localdomain']) {
      it(`${h} is not`, () => expect(isLoopbackHost(h)).to.equal(false))
    }
  })

  describe('extraHostsFor', () => {
    const cases: Array<[mode: 'bridge' | 'host', runtime: string, expected: Record<string, string>]> = [
      ['bridge', 'docker', {'host.docker.internal': 'host-gateway'}],
      ['host', 'docker', {}],
      ['bridge', 'podman', {}],
      ['host', 'podman', {}],
      ['bridge', 'some-plugin-runtime', {}],
    ]
    // What each engine's provider declares (a plugin runtime that declares nothing gets the generic capabilities).
    const declared = (name: string) =>
      capabilitiesOf([dockerProvider, podmanProvider].find((p) => p.name === name) ?? {name})
    for (const [mode, runtime, expected] of cases) {
      it(`${runtime} in ${mode} mode`, () => expect(extraHostsFor(mode, declared(runtime))).to.deep.equal(expected))
    }
  })
})

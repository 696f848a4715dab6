import {expect} from 'chai'

import type {ContainerSpec} from '../../../src/engine/types.js'

import {DOCKER_CAPABILITIES, PODMAN_CAPABILITIES} from '../../../src/adapters/capabilities.js'
import {containerUser, repoDigest, specHash} from '../../../src/server/spec.js'

const native = {inVm: false, rootless: false}

describe('server container spec', () => {
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
})

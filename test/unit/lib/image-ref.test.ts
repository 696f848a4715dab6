import {expect} from 'chai'

import {StigmerError} from '../../../src/lib/errors.js'
import {
  DEFAULT_IMAGE_REPOSITORY,
  formatRef,
  nameOf,
  parseImageRef,
  pinnedImage,
  registryOf,
  sameImage,
  withTag,
} from '../../../src/lib/image-ref.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

function rejects(input: string, mentions: RegExp): void {
  let caught: unknown
  try {
    parseImageRef(input)
  } catch (error) {
    caught = error
  }

  expect(caught, `"${input}" should be rejected`).to.be.instanceOf(StigmerError)
  expect((caught as StigmerError).exit).to.equal(2)
  expect((caught as StigmerError).message).to.match(mentions)
}

describe('image references', () => {
  describe('parseImageRef', () => {
    it('a bare name is a Docker Hub image without tag: registry undefined, registryOf docker.io', () => {
      const ref = parseImageRef('busybox')
      expect(ref).to.deep.equal({
        digest: undefined,
        ref: 'busybox',
        registry: undefined,
        repository: 'busybox',
        tag: undefined,
      })
      expect(registryOf(ref)).to.equal('docker.io')
      expect(registryOf('stigmer/agent-runner:v1')).to.equal('docker.io')
    })

    it('a first component with a dot, a port or "localhost" is a registry', () => {
      expect(parseImageRef('ghcr.io/stigmer/agent-runner:v0.1.0')).to.deep.include({
        registry: 'ghcr.io',
        repository: 'stigmer/agent-runner',
        tag: 'v0.1.0',
      })
      expect(parseImageRef('127.0.0.1:5000/lab/busybox:1')).to.deep.include({
        registry: '127.0.0.1:5000',
        repository: 'lab/busybox',
        tag: '1',
      })
      expect(parseImageRef('localhost:5000/x')).to.deep.include({
        registry: 'localhost:5000',
        repository: 'x',
        tag: undefined,
      })
      expect(parseImageRef('localhost/stigmer/agent-runner:dev')).to.deep.include({registry: 'localhost', tag: 'dev'})
      expect(parseImageRef('[::1]:5000/x:y').registry).to.equal('[::1]:5000')
      // "stigmer" has no dot, port or localhost: a Docker Hub namespace, not a registry.
      expect(parseImageRef('stigmer/agent-runner').registry).to.equal(undefined)
    })

    it('a registry port is not mistaken for a tag', () => {
      expect(parseImageRef('registry.example:5000/team/app')).to.deep.include({
        registry: 'registry.example:5000',
        tag: undefined,
      })
    })

    it('digests, with and without a tag', () => {
      expect(parseImageRef(`ghcr.io/stigmer/agent-runner@${DIGEST}`)).to.deep.include({digest: DIGEST, tag: undefined})
      const both = parseImageRef(`127.0.0.1:5000/a/b:v1@${DIGEST}`)
      expect(both).to.deep.include({digest: DIGEST, registry: '127.0.0.1:5000', repository: 'a/b', tag: 'v1'})
      expect(both.ref).to.equal(`127.0.0.1:5000/a/b:v1@${DIGEST}`)
    })

    it('trims whitespace and keeps the reference as given otherwise', () => {
      expect(parseImageRef('  ghcr.io/a/b:c  ').ref).to.equal('ghcr.io/a/b:c')
    })

    it('rejects bad references saying what is wrong', () => {
      rejects('', /empty/)
      rejects('Stigmer/Agent', /"Stigmer" must be lower-case/)
      rejects('ghcr.io/a/b:bad tag', /bad tag/)
      rejects('ghcr.io/a/b:-lead', /bad tag/)
      rejects(`a/b:${'x'.repeat(129)}`, /bad tag/)
      rejects('a/b@sha256:abc', /bad digest/)
      rejects('a/b@', /bad digest/)
      rejects('ghcr.io//b', /must be lower-case/)
      rejects('bad_host.io:99999x/a', /bad registry|bad tag/)
      rejects('a//b', /must be lower-case/)
    })
  })

  it('formatRef puts the parts back together', () => {
    expect(formatRef({registry: 'ghcr.io', repository: 'a/b', tag: 't'})).to.equal('ghcr.io/a/b:t')
    expect(formatRef({digest: DIGEST, repository: 'b'})).to.equal(`b@${DIGEST}`)
    for (const input of ['busybox', 'ghcr.io/a/b:t', `127.0.0.1:5000/a/b:v1@${DIGEST}`, 'localhost/x:dev']) {
      expect(formatRef(parseImageRef(input))).to.equal(input)
    }
  })

  it('nameOf and withTag', () => {
    expect(nameOf(parseImageRef('ghcr.io/a/b:t'))).to.equal('ghcr.io/a/b')
    expect(nameOf(parseImageRef('busybox:1'))).to.equal('busybox')
    expect(withTag('ghcr.io/a/b:t', 'v2')).to.equal('ghcr.io/a/b:v2')
    expect(withTag(`127.0.0.1:5000/a@${DIGEST}`, 'v2')).to.equal('127.0.0.1:5000/a:v2')
  })

  it('pinnedImage is <repository>:v<version>, never latest, with or without a leading v', () => {
    expect(pinnedImage('0.1.0')).to.equal(`${DEFAULT_IMAGE_REPOSITORY}:v0.1.0`)
    expect(pinnedImage('v0.1.0')).to.equal('ghcr.io/stigmer/agent-runner:v0.1.0')
    expect(pinnedImage('1.2.3-rc.1', 'localhost:5000/me/runner')).to.equal('localhost:5000/me/runner:v1.2.3-rc.1')
  })

  it("sameImage knows Docker Hub's spellings and the implicit latest tag", () => {
    expect(sameImage('busybox', 'docker.io/library/busybox:latest')).to.equal(true)
    expect(sameImage('stigmer/x:1', 'docker.io/stigmer/x:1')).to.equal(true)
    expect(sameImage('busybox:1', 'busybox:2')).to.equal(false)
    expect(sameImage('ghcr.io/a/b', 'docker.io/a/b')).to.equal(false)
    expect(sameImage(`a@${DIGEST}`, 'a:latest')).to.equal(false)
  })
})

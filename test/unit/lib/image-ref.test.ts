import {expect} from 'chai'

import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
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

    it('digests: exactly 64 hex digits for sha256 (96, 128 for sha384, sha512), lower case, a known algorithm', () => {
      expect(parseImageRef(`a/b@sha256:${'a'.repeat(64)}`).digest).to.equal(`sha256:${'a'.repeat(64)}`)
      expect(parseImageRef(`a/b@sha512:${'0'.repeat(128)}`).digest).to.have.length(135)
      rejects(`a/b@sha256:${'a'.repeat(63)}`, /exactly 64 hex digits, not 63/)
      rejects(`a/b@sha256:${'a'.repeat(65)}`, /exactly 64 hex digits, not 65/)
      rejects(`a/b@sha256:${'a'.repeat(32)}`, /exactly 64 hex digits, not 32/)
      rejects(`a/b@sha256:${'A'.repeat(64)}`, /lower-case hex digits/)
      rejects(`a/b@md5:${'a'.repeat(32)}`, /unknown digest algorithm "md5"/)
    })

    it('a name over 255 characters and a tag over 128 are usage errors that never echo the whole input', () => {
      expect(parseImageRef(`ghcr.io/${'a'.repeat(247)}:${'t'.repeat(128)}`).tag).to.have.length(128)
      const long = `ghcr.io/x/${'a'.repeat(20_000)}:v1`
      let caught: unknown
      try {
        parseImageRef(long)
      } catch (error) {
        caught = error
      }

      expect(caught).to.be.instanceOf(StigmerError)
      expect((caught as StigmerError).exit).to.equal(ExitCode.USAGE)
      expect((caught as StigmerError).message)
        .to.contain('the name has 20010 characters; a name (registry/repository) has at most 255')
        .and.contain('(20013 characters)')
      expect((caught as StigmerError).message.length).to.be.lessThan(300)
      rejects(`ghcr.io/${'a'.repeat(248)}:v1`, /the name has 256 characters/)
      rejects(`a/b:${'t'.repeat(20_000)}`, /the tag has 20000 characters/)
    })

    it('rejects bad references saying what is wrong', () => {
      rejects('', /empty/)
      rejects('Stigmer/Agent', /"Stigmer" must be lower-case/)
      rejects('ghcr.io/a/b:bad tag', /bad tag/)
      rejects('ghcr.io/a/b:-lead', /bad tag/)
      rejects(`a/b:${'x'.repeat(129)}`, /the tag has 129 characters; a tag has at most 128/)
      rejects('a/b@sha256:abc', /a sha256 digest has exactly 64 hex digits, not 3/)
      rejects('a/b@', /a digest is <algorithm>:<hex>/)
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

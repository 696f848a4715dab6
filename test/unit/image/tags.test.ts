import {expect} from 'chai'

import {
  buildTags,
  devTag,
  parseReleaseVersion,
  parseRepository,
  planPush,
  planReleaseTags,
  releaseTags,
  stableVersions,
} from '../../../src/image/tags.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {LOCAL_DEV_IMAGE} from '../../../src/lib/image-ref.js'

function usage(fn: () => unknown): StigmerError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(StigmerError)
    expect((error as StigmerError).exit).to.equal(2)
    return error as StigmerError
  }

  throw new Error('expected a usage error')
}

const SHA = '0123456789abcdef0123456789abcdef01234567'

describe('image/tags', () => {
  describe('releaseTags', () => {
    it('gives a stable release its exact, minor, major and latest tags, most specific first', () => {
      expect(releaseTags('1.2.3')).to.deep.equal(['v1.2.3', 'v1.2', 'v1', 'latest'])
      expect(releaseTags('10.0.0')).to.deep.equal(['v10.0.0', 'v10.0', 'v10', 'latest'])
    })

    it('accepts a leading v', () => {
      expect(releaseTags('v2.0.1')).to.deep.equal(['v2.0.1', 'v2.0', 'v2', 'latest'])
    })

    it('gives a pre-release only its exact tag', () => {
      expect(releaseTags('1.3.0-rc.1')).to.deep.equal(['v1.3.0-rc.1'])
      expect(releaseTags('2.0.0-alpha')).to.deep.equal(['v2.0.0-alpha'])
    })

    it('gives no v0 tag below 1.0', () => {
      expect(releaseTags('0.4.1')).to.deep.equal(['v0.4.1', 'v0.4', 'latest'])
    })

    it('compares numerically, not as strings (1.10.0 is v1.10, not v1.1)', () => {
      expect(releaseTags('1.10.0')).to.deep.equal(['v1.10.0', 'v1.10', 'v1', 'latest'])
    })
  })

  describe('parseReleaseVersion', () => {
    for (const bad of ['', '1', '1.2', '1.2.3.4', 'latest', 'v', '01.2.3', '1.2.3-', '=1.2.3', '1.2.x', ' v v1.2.3']) {
      it(`refuses ${JSON.stringify(bad)} as a usage error`, () => {
        expect(usage(() => parseReleaseVersion(bad)).message).to.match(/is not a semantic version/)
      })
    }

    it('refuses build metadata, which cannot be in a tag', () => {
      expect(usage(() => parseReleaseVersion('1.2.3+build.5')).message).to.match(/build metadata/)
    })

    it('refuses a pre-release that makes the tag over 128 characters, without echoing it whole', () => {
      const fits = `1.0.0-${'r'.repeat(121)}` // v + 127 characters = 128
      expect(releaseTags(fits)).to.deep.equal([`v${fits}`])
      expect(`v${fits}`).to.have.length(128)
      const error = usage(() => parseReleaseVersion(`1.0.0-${'r'.repeat(20_000)}`))
      expect(error.message).to.match(/makes the tag "v…" 20007 characters long; an image tag has at most 128/)
      expect(error.message.length).to.be.lessThan(200)
      expect(usage(() => releaseTags(`${fits}r`)).message).to.match(/129 characters long/)
    })

    it('reports the parts', () => {
      expect(parseReleaseVersion('1.3.0-rc.1')).to.deep.equal({
        major: 1,
        minor: 3,
        patch: 0,
        prerelease: true,
        version: '1.3.0-rc.1',
      })
    })
  })

  describe('devTag', () => {
    it('uses the first 7 hex digits of the commit', () => {
      expect(devTag(SHA)).to.equal('dev-0123456')
      expect(devTag('ABCDEF1234')).to.equal('dev-abcdef1')
    })

    it('refuses what is not a commit id', () => {
      usage(() => devTag('main'))
      usage(() => devTag('abc'))
    })
  })

  describe('planPush', () => {
    it('a stable release goes to four tags of the repository', () => {
      const plan = planPush({repository: '127.0.0.1:5000/team/runner', version: '1.2.3'})
      expect(plan.kind).to.equal('release')
      expect(plan.refs).to.deep.equal([
        '127.0.0.1:5000/team/runner:v1.2.3',
        '127.0.0.1:5000/team/runner:v1.2',
        '127.0.0.1:5000/team/runner:v1',
        '127.0.0.1:5000/team/runner:latest',
      ])
    })

    it('a pre-release goes to its exact tag only', () => {
      const plan = planPush({repository: 'ghcr.io/stigmer/agent-runner', revision: SHA, version: '1.3.0-rc.1'})
      expect(plan).to.deep.include({kind: 'prerelease', revision: SHA, version: '1.3.0-rc.1'})
      expect(plan.refs).to.deep.equal(['ghcr.io/stigmer/agent-runner:v1.3.0-rc.1'])
    })

    it('without a version, a development push is dev-<sha> of the revision', () => {
      const plan = planPush({repository: 'ghcr.io/stigmer/agent-runner', revision: SHA})
      expect(plan).to.deep.include({kind: 'development', revision: SHA})
      expect(plan.refs).to.deep.equal(['ghcr.io/stigmer/agent-runner:dev-0123456'])
    })

    it('without a version or a revision it refuses, saying what to do', () => {
      const error = usage(() => planPush({repository: 'ghcr.io/stigmer/agent-runner', revision: 'unknown'}))
      expect(error.suggestions.join('\n')).to.match(/--version/)
    })

    it('validates the version before anything else', () => {
      usage(() => planPush({repository: 'ghcr.io/stigmer/agent-runner', revision: SHA, version: '1.2'}))
    })

    it('refuses a repository with a tag or digest', () => {
      usage(() => planPush({repository: 'ghcr.io/stigmer/agent-runner:v1', version: '1.2.3'}))
      usage(() => parseRepository(`ghcr.io/x/y@sha256:${'a'.repeat(64)}`))
      usage(() => parseRepository('ghcr.io/Upper/case'))
      expect(parseRepository('ghcr.io/stigmer/agent-runner')).to.equal('ghcr.io/stigmer/agent-runner')
    })
  })

  describe('buildTags', () => {
    it('always tags the local development image', () => {
      expect(buildTags({})).to.deep.equal([LOCAL_DEV_IMAGE])
    })

    it('adds dev-<sha> for a git checkout and v<version> with --version, then extra tags, without duplicates', () => {
      const tags = buildTags({
        extra: ['my/runner:try', LOCAL_DEV_IMAGE, 'localhost/stigmer/agent-runner:v1.2.3'],
        revision: SHA,
        version: parseReleaseVersion('1.2.3'),
      })
      expect(tags).to.deep.equal([
        'localhost/stigmer/agent-runner:dev',
        'localhost/stigmer/agent-runner:dev-0123456',
        'localhost/stigmer/agent-runner:v1.2.3',
        'my/runner:try',
      ])
    })

    it('refuses an invalid extra tag', () => {
      usage(() => buildTags({extra: ['Bad Tag']}))
      usage(() => buildTags({extra: [`x@sha256:${'a'.repeat(64)}`]}))
    })
  })

  describe('floating tags never move backwards', () => {
    it('a patch of an older line moves only its own minor tag', () => {
      expect(planReleaseTags('1.1.5', ['v1.1.4', 'v1.1', 'v1.2.0', 'v1.2', 'v1', 'latest'])).to.deep.equal({
        held: [
          {newer: 'v1.2.0', tag: 'v1'},
          {newer: 'v1.2.0', tag: 'latest'},
        ],
        tags: ['v1.1.5', 'v1.1'],
      })
    })

    it('a patch of an older major keeps its major tag but not latest', () => {
      expect(releaseTags('1.4.2', ['v1.4.1', 'v2.0.0', 'latest'])).to.deep.equal(['v1.4.2', 'v1.4', 'v1'])
    })

    it('re-pushing an older exact version moves nothing that a newer one holds', () => {
      expect(releaseTags('1.2.3', ['v1.2.4'])).to.deep.equal(['v1.2.3'])
    })

    it('the newest release, or the same one again, moves everything', () => {
      expect(releaseTags('1.3.0', ['v1.2.9', 'v1.2', 'v1', 'latest'])).to.deep.equal(['v1.3.0', 'v1.3', 'v1', 'latest'])
      expect(releaseTags('1.3.0', ['v1.3.0', 'v1.3', 'v1', 'latest'])).to.deep.equal(['v1.3.0', 'v1.3', 'v1', 'latest'])
    })

    it('pre-releases, dev tags and non-versions in the repository do not count', () => {
      expect(releaseTags('1.2.0', ['v1.3.0-rc.1', 'dev-0123456', 'latest', 'v9', 'nightly', '2.0.0.1'])).to.deep.equal([
        'v1.2.0',
        'v1.2',
        'v1',
        'latest',
      ])
      expect(stableVersions(['v1.2.3', '1.0.0', 'v1.2', 'v2.0.0-rc.1']).map((v) => v.version)).to.deep.equal([
        '1.2.3',
        '1.0.0',
      ])
    })

    it('versions compare as semver, not strings (1.10.0 is newer than 1.9.0)', () => {
      expect(releaseTags('1.9.1', ['v1.10.0'])).to.deep.equal(['v1.9.1', 'v1.9'])
    })

    it('planPush carries what it held back', () => {
      const plan = planPush({existingTags: ['v2.0.0'], repository: 'ghcr.io/stigmer/agent-runner', version: '1.5.0'})
      expect(plan.tags).to.deep.equal(['v1.5.0', 'v1.5', 'v1'])
      expect(plan.held).to.deep.equal([{newer: 'v2.0.0', tag: 'latest'}])
    })
  })
})

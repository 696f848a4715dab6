import {expect} from 'chai'

import {resolveImage} from '../../../src/image/resolution.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {LOCAL_DEV_IMAGE} from '../../../src/lib/image-ref.js'

const PINNED = 'ghcr.io/stigmer/agent-runner:v0.4.2'

describe('resolveImage', () => {
  const everything = {
    config: {image: 'registry.example/from-config:1'},
    env: {STIGMER_AGENT_RUNNER_IMAGE: 'registry.example/from-env:1'},
    imageFlag: 'registry.example/from-flag:1',
  }

  it('with nothing set: the image pinned to this CLI version, never latest', () => {
    expect(resolveImage({cliVersion: '0.4.2', env: {}})).to.deep.equal({
      isPinned: true,
      pinned: PINNED,
      ref: PINNED,
      source: 'pinned',
    })
  })

  it('order: --use-local-image, --image, STIGMER_AGENT_RUNNER_IMAGE, config file, pinned', () => {
    expect(resolveImage({cliVersion: '0.4.2', ...everything, useLocalImage: true})).to.deep.include({
      ref: LOCAL_DEV_IMAGE,
      source: '--use-local-image',
    })
    expect(resolveImage({cliVersion: '0.4.2', ...everything})).to.deep.include({
      ref: 'registry.example/from-flag:1',
      source: '--image',
    })
    expect(resolveImage({cliVersion: '0.4.2', config: everything.config, env: everything.env})).to.deep.include({
      ref: 'registry.example/from-env:1',
      source: 'STIGMER_AGENT_RUNNER_IMAGE',
    })
    expect(resolveImage({cliVersion: '0.4.2', config: everything.config, env: {}})).to.deep.include({
      ref: 'registry.example/from-config:1',
      source: 'config file',
    })
  })

  it('an override still reports what the CLI pins, and says whether it is the same image', () => {
    const other = resolveImage({
      cliVersion: '0.4.2',
      env: {STIGMER_AGENT_RUNNER_IMAGE: 'ghcr.io/stigmer/agent-runner:v0.4.1'},
    })
    expect(other).to.deep.include({isPinned: false, pinned: PINNED})
    const same = resolveImage({cliVersion: '0.4.2', env: {STIGMER_AGENT_RUNNER_IMAGE: PINNED}})
    expect(same).to.deep.include({isPinned: true, source: 'STIGMER_AGENT_RUNNER_IMAGE'})
  })

  it('a blank STIGMER_AGENT_RUNNER_IMAGE counts as unset', () => {
    expect(resolveImage({cliVersion: '0.4.2', env: {STIGMER_AGENT_RUNNER_IMAGE: '  '}}).source).to.equal('pinned')
  })

  it('a malformed override is a usage error, not a pull of nonsense', () => {
    expect(() => resolveImage({cliVersion: '0.4.2', env: {STIGMER_AGENT_RUNNER_IMAGE: 'Not A Ref'}}))
      .to.throw(StigmerError)
      .with.property('exit', 2)
  })
})

import {expect} from 'chai'

import {needsFirstRunPull} from '../../../src/image/first-run.js'

describe('first-run: needsFirstRunPull', () => {
  it('pulls only a missing image, under the default --pull missing', () => {
    expect(needsFirstRunPull({imagePresent: false, pullPolicy: 'missing', useLocalImage: false})).to.equal(true)
  })

  it('never for an image that is there', () => {
    for (const pullPolicy of ['missing', 'always', 'never'] as const) {
      expect(needsFirstRunPull({imagePresent: true, pullPolicy, useLocalImage: false}), pullPolicy).to.equal(false)
    }
  })

  it('leaves --pull never, --pull always and --use-local-image to the command (its own messages)', () => {
    expect(needsFirstRunPull({imagePresent: false, pullPolicy: 'never', useLocalImage: false})).to.equal(false)
    expect(needsFirstRunPull({imagePresent: false, pullPolicy: 'always', useLocalImage: false})).to.equal(false)
    expect(needsFirstRunPull({imagePresent: false, pullPolicy: 'missing', useLocalImage: true})).to.equal(false)
  })
})

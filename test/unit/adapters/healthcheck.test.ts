import {expect} from 'chai'

import {
  fromHealthcheckSpec,
  HEALTHCHECK_LABEL,
  parseHealthLabel,
  toHealthcheckSpec,
} from '../../../src/adapters/healthcheck.js'

const S = 1_000_000_000

describe('the health check codec', () => {
  it('reads the engine’s check: CMD-SHELL as /bin/sh -c, durations in ms, NONE or nothing as no check', () => {
    expect(
      toHealthcheckSpec({
        Interval: 30 * S,
        Retries: 3,
        StartPeriod: 5 * S,
        Test: ['CMD-SHELL', 'curl -f x'],
        Timeout: S,
      }),
    ).to.deep.equal({
      intervalMs: 30_000,
      retries: 3,
      startPeriodMs: 5000,
      test: ['/bin/sh', '-c', 'curl -f x'],
      timeoutMs: 1000,
    })
    expect(toHealthcheckSpec({Test: ['CMD', '/app/check', '--quick']})).to.deep.equal({test: ['/app/check', '--quick']})
    expect(toHealthcheckSpec({Test: ['NONE']})).to.equal(undefined)
    expect(toHealthcheckSpec({Test: []})).to.equal(undefined)
    expect(toHealthcheckSpec(undefined)).to.equal(undefined)
  })

  it('writes a shell check back as CMD-SHELL (Podman 4 splits a CMD check’s arguments at spaces), the rest as CMD', () => {
    expect(fromHealthcheckSpec({intervalMs: 2000, test: ['/bin/sh', '-c', 'a b']})).to.deep.equal({
      Interval: 2 * S,
      Test: ['CMD-SHELL', 'a b'],
    })
    expect(fromHealthcheckSpec({test: ['/bin/sh', '-c', 'a', 'extra']}).Test).to.deep.equal([
      'CMD',
      '/bin/sh',
      '-c',
      'a',
      'extra',
    ])
    const spec = {retries: 2, startPeriodMs: 1500, test: ['/app/check'], timeoutMs: 3000}
    expect(toHealthcheckSpec(fromHealthcheckSpec(spec))).to.deep.equal(spec)
  })

  it('reads the label an image carries where the engine dropped HEALTHCHECK', () => {
    expect(parseHealthLabel({[HEALTHCHECK_LABEL]: '["/app/python", "-I", "/opt/check.py"]'})).to.deep.equal({
      test: ['/app/python', '-I', '/opt/check.py'],
    })
    expect(parseHealthLabel({[HEALTHCHECK_LABEL]: '["CMD-SHELL", "exit 0"]'})).to.deep.equal({
      test: ['/bin/sh', '-c', 'exit 0'],
    })
    for (const bad of ['not json', '{"a": 1}', '[1, 2]', ''])
      expect(parseHealthLabel({[HEALTHCHECK_LABEL]: bad}), bad).to.equal(undefined)
    expect(parseHealthLabel(undefined)).to.equal(undefined)
  })
})

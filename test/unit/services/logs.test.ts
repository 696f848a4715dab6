import {expect} from 'chai'

import {StigmerError} from '../../../src/lib/errors.js'
import {parseSince} from '../../../src/services/logs.js'

describe('logs service: parseSince', () => {
  const now = Date.parse('2026-11-28T10:00:00.750Z')
  const at = (iso: string) => Math.floor(Date.parse(iso) / 1000)

  it('a duration is that long before now, in unix seconds', () => {
    expect(parseSince('10m', now)).to.equal(at('2026-11-28T09:50:00.750Z'))
    expect(parseSince('1h30m', now)).to.equal(at('2026-11-28T08:30:00.750Z'))
    expect(parseSince('45s', now)).to.equal(at('2026-11-28T09:59:15.750Z'))
    expect(parseSince('90', now)).to.equal(at('2026-11-28T09:58:30.750Z'))
  })

  it('an RFC 3339 time (or a date) is that time, in unix seconds', () => {
    expect(parseSince('2026-11-28T09:00:00Z', now)).to.equal(at('2026-11-28T09:00:00Z'))
    expect(parseSince('2026-11-28T09:00:00.999Z', now)).to.equal(at('2026-11-28T09:00:00Z'))
    expect(parseSince('2026-11-28T11:00:00+02:00', now)).to.equal(at('2026-11-28T09:00:00Z'))
    expect(parseSince('2026-11-28', now)).to.equal(at('2026-11-28T00:00:00Z'))
  })

  it('anything else is a usage error (exit 2) that says what works', () => {
    for (const bad of ['yesterday', '10 minutes', '-5m', '2026-13-45T99:00:00Z', '']) {
      let error: unknown
      try {
        parseSince(bad, now)
      } catch (error_) {
        error = error_
      }

      expect(error, bad).to.be.instanceOf(StigmerError)
      expect((error as StigmerError).exit, bad).to.equal(2)
      expect((error as StigmerError).suggestions.join(' ')).to.match(/30s|RFC 3339/)
    }
  })
})

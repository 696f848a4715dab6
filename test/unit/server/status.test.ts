import {expect} from 'chai'

import {statusExitCode} from '../../../src/commands/server/status.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'

describe('server status', () => {
  describe('statusExitCode', () => {
    it('0 running and healthy, 4 running but not healthy, 3 not running', () => {
      expect(statusExitCode({healthy: true, running: true})).to.equal(ExitCode.OK)
      expect(statusExitCode({healthy: false, running: true})).to.equal(ExitCode.NOT_HEALTHY)
      expect(statusExitCode({healthy: false, running: false})).to.equal(ExitCode.NOT_RUNNING)
      expect([ExitCode.OK, ExitCode.NOT_RUNNING, ExitCode.NOT_HEALTHY]).to.deep.equal([0, 3, 4])
    })
  })
})

import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {acquireLock} from '../../../src/server/lock.js'
import {rejectionOf} from '../../helpers/rejection.js'

describe('lock', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-lock-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  it('takes and releases the lock', async () => {
    const lock = await acquireLock(join(dir, 'state', 'server'))
    await lock.release()
  })

  it('a file where the state folder should be: a clear error naming the lock, not a raw ENOTDIR', async () => {
    writeFileSync(join(dir, 'state'), 'not a folder')
    const error = await rejectionOf(acquireLock(join(dir, 'state', 'server'), {waitMs: 0}), StigmerError)
    expect(error.exit).to.equal(ExitCode.LOCKED)
    expect(error.message)
      .to.contain(join(dir, 'state', 'server.lock'))
      .and.contain('a file is in the way')
    expect(error.message).not.to.contain('ENOTDIR')
  })
})

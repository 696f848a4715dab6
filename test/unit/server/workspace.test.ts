import {expect} from 'chai'
import {chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {ensureWorkspace} from '../../../src/server/workspace.js'

describe('server workspace', () => {
  describe('ensureWorkspace: never re-owns through a link', () => {
    const asRoot = process.getuid?.() === 0
    let dir: string

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'stigmer-ws-'))
    })

    afterEach(() => rmSync(dir, {force: true, recursive: true}))

    it('a link planted at the default workspace, to a root-owned folder: refused (41), the target keeps its owner', function () {
      if (!asRoot) this.skip()
      const target = join(dir, 'root-owned')
      mkdirSync(target)
      chownSync(target, 0, 0)
      const data = join(dir, 'data')
      mkdirSync(data)
      symlinkSync(target, join(data, 'workspace'))
      let error: unknown
      try {
        ensureWorkspace(join(data, 'workspace'), {gid: 1000, uid: 1000}, true, 0)
      } catch (error_) {
        error = error_
      }

      expect(error).to.be.instanceOf(StigmerError)
      expect((error as StigmerError).exit).to.equal(ExitCode.WORKSPACE)
      expect((error as StigmerError).message).to.match(/symbolic link/)
      expect(statSync(target).uid).to.equal(0)
      expect(statSync(target).gid).to.equal(0)
    })

    it('a component above it that another user owns: refused, nothing re-owned', function () {
      if (!asRoot) this.skip()
      const data = join(dir, 'data')
      mkdirSync(data)
      chownSync(data, 4242, 4242)
      let error: unknown
      try {
        ensureWorkspace(join(data, 'workspace'), {gid: 1000, uid: 1000}, true, 0)
      } catch (error_) {
        error = error_
      }

      expect((error as StigmerError).exit).to.equal(ExitCode.WORKSPACE)
      expect((error as StigmerError).message).to.match(/another user \(uid 4242\)/)
      expect(lstatSync(join(data, 'workspace')).uid).to.equal(0)
    })

    it('a real default workspace under root-owned folders goes to the image user', function () {
      if (!asRoot) this.skip()
      const ws = join(dir, 'data', 'workspace')
      ensureWorkspace(ws, {gid: 1000, uid: 1000}, true, 0)
      expect(statSync(ws).uid).to.equal(1000)
      expect(statSync(ws).gid).to.equal(1000)
      // The next start finds it already theirs.
      ensureWorkspace(ws, {gid: 1000, uid: 1000}, true, 0)
      expect(statSync(ws).uid).to.equal(1000)
    })

    it('a folder the user named is used through a link, and never re-owned', () => {
      const target = join(dir, 'real')
      mkdirSync(target)
      symlinkSync(target, join(dir, 'named'))
      const before = statSync(target).uid
      ensureWorkspace(join(dir, 'named'), {gid: 1000, uid: 1000}, false)
      expect(statSync(target).uid).to.equal(before)
    })
  })
})

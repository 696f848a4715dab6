import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {onExit, removeOnExit} from '../../../src/lib/exit-cleanup.js'

const FIXTURE = new URL('../../fixtures/exit-cleanup/hold-credentials.ts', import.meta.url).pathname

describe('exit-cleanup registry', () => {
  it('release() removes at once, and only once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stigmer-test-'))
    writeFileSync(join(dir, 'auth.json'), '{}')
    const registered = removeOnExit(dir)
    registered.release()
    expect(existsSync(dir)).to.equal(false)
    let runs = 0
    const task = onExit(() => runs++)
    task.release()
    task.release()
    expect(runs).to.equal(1)
  })

  it('two Ctrl-Cs during a push that holds a credential file: exit 130, and the file is gone', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => resolve(code))
    })
    const until = async (done: () => boolean) => {
      const deadline = Date.now() + 30_000
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out; stdout so far: ${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }

    await until(() => out.includes('\n'))
    const dir = out.split('\n')[0]!
    expect(existsSync(join(dir, 'auth.json'))).to.equal(true)
    child.kill('SIGINT')
    await until(() => out.includes('aborted'))
    expect(existsSync(join(dir, 'auth.json')), 'still held after the first Ctrl-C').to.equal(true)
    child.kill('SIGINT')
    expect(await exited).to.equal(130)
    expect(existsSync(dir)).to.equal(false)
  })
})

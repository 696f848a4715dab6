import {expect} from 'chai'

import {RuntimeError} from '../../../src/engine/errors.js'
import {InterruptedError, isAbortError, messageOf, StigmerError, usageError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {addSecret} from '../../../src/lib/redact.js'
import {formatError, toStigmerError, writeError} from '../../../src/ui/render-error.js'

/** Captures what writeError prints on stdout and stderr. */
function capture(fn: () => void): {stderr: string; stdout: string} {
  const out = {stderr: '', stdout: ''}
  const original = {stderr: process.stderr.write, stdout: process.stdout.write}
  process.stdout.write = ((chunk: string) => {
    out.stdout += chunk
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string) => {
    out.stderr += chunk
    return true
  }) as typeof process.stderr.write
  try {
    fn()
  } finally {
    process.stdout.write = original.stdout
    process.stderr.write = original.stderr
  }

  return out
}

const noRuntime = () =>
  new StigmerError('No container engine found.', {
    code: 'NO_RUNTIME',
    data: {probed: [{endpoint: 'unix:///var/run/docker.sock', state: 'absent'}]},
    details: 'Engines probed:\n  docker: unix:///var/run/docker.sock: no socket',
    exit: ExitCode.NO_RUNTIME,
    suggestions: ['Install Docker Desktop', 'sudo apt install podman'],
  })

describe('error rendering', () => {
  describe('formatError (text, for stderr)', () => {
    it('message, indented details, "Try this:" suggestions, and the exit code line', () => {
      expect(formatError(noRuntime())).to.equal(
        [
          'Error: No container engine found.',
          '',
          '  Engines probed:',
          '    docker: unix:///var/run/docker.sock: no socket',
          '',
          'Try this:',
          '  - Install Docker Desktop',
          '  - sudo apt install podman',
          '',
          '(exit code 10: NO_RUNTIME; see docs/exit-codes.md)',
        ].join('\n'),
      )
    })

    it('an external failure shows the command that failed', () => {
      const error = new StigmerError('Pull failed.', {
        command: 'docker pull x',
        code: 'PULL_FAILED',
        exit: 21,
        kind: 'external',
      })
      expect(formatError(error)).to.contain('  Failed command: docker pull x').and.not.contain('Try this:')
    })

    it('never prints a registered secret', () => {
      const secret = `hunter2-${Date.now()}`
      addSecret(secret)
      const error = new StigmerError(`login failed for ${secret}`, {
        code: 'REGISTRY_AUTH',
        command: `echo ${secret} | docker login`,
        details: `password ${secret}`,
        exit: 24,
        suggestions: [`retry with ${secret}`],
      })
      const text = formatError(error)
      expect(text).to.not.contain(secret)
      const {stdout} = capture(() => writeError(error, true))
      expect(stdout).to.not.contain(secret)
      expect(stdout).to.contain('****')
    })
  })

  describe('writeError', () => {
    it('under --json: one JSON object on stdout, nothing on stderr', () => {
      const {stderr, stdout} = capture(() => writeError(noRuntime(), true))
      expect(stderr).to.equal('')
      expect(JSON.parse(stdout)).to.deep.equal({
        error: {
          code: 'NO_RUNTIME',
          data: {probed: [{endpoint: 'unix:///var/run/docker.sock', state: 'absent'}]},
          details: 'Engines probed:\n  docker: unix:///var/run/docker.sock: no socket',
          exit: 10,
          kind: 'user',
          message: 'No container engine found.',
          suggestions: ['Install Docker Desktop', 'sudo apt install podman'],
        },
        status: 10,
      })
    })

    it('under --json, optional fields are left out rather than null', () => {
      const {stdout} = capture(() => writeError(usageError('Bad flag.'), true))
      expect(JSON.parse(stdout)).to.deep.equal({
        error: {code: 'USAGE', exit: 2, kind: 'user', message: 'Bad flag.'},
        status: 2,
      })
    })

    it('without --json: the text form on stderr, nothing on stdout', () => {
      const {stderr, stdout} = capture(() => writeError(noRuntime(), false))
      expect(stdout).to.equal('')
      expect(stderr).to.equal(formatError(noRuntime()) + '\n')
    })
  })

  describe('toStigmerError', () => {
    it('keeps StigmerErrors as they are', () => {
      const error = noRuntime()
      expect(toStigmerError(error)).to.equal(error)
    })

    it('oclif parse errors become usage errors (exit 2)', () => {
      const flag = toStigmerError(Object.assign(new Error('Nonexistent flag: --bogus'), {oclif: {exit: 2}}))
      expect(flag).to.deep.include({code: 'USAGE', exit: 2, kind: 'user'})
      expect(toStigmerError(new Error('Missing required flag name')).exit).to.equal(2)
    })

    it("an adapter's unreachable / permission RuntimeError is exit 11 / 12, not a bug", () => {
      const down = toStigmerError(
        new RuntimeError('unreachable', 'Could not inspect x: connect ECONNREFUSED 127.0.0.1:22'),
      )
      expect(down).to.deep.include({code: 'RUNTIME_UNREACHABLE', exit: 11, kind: 'external'})
      expect(down.message).to.contain('ECONNREFUSED').and.not.contain('bug')
      expect(down.suggestions.join(' ')).to.not.contain('bug')
      expect(toStigmerError(new RuntimeError('permission', 'EACCES')).exit).to.equal(12)
      expect(toStigmerError(new RuntimeError('engine', 'odd')).exit).to.equal(1)
    })

    it('anything else is a bug: exit 1, code INTERNAL, with a "report it" suggestion', () => {
      const error = toStigmerError(new TypeError('x is undefined'))
      expect(error).to.deep.include({code: 'INTERNAL', exit: ExitCode.GENERAL, kind: 'bug', message: 'x is undefined'})
      expect(error.suggestions[0]).to.contain('report')
      expect(toStigmerError('a string').message).to.equal('a string')
    })
  })

  describe('errors', () => {
    it('usageError is a user error with exit 2', () => {
      expect(usageError('bad', ['do this'])).to.deep.include({
        code: 'USAGE',
        exit: 2,
        kind: 'user',
        suggestions: ['do this'],
      })
    })

    it('InterruptedError exits 130 and counts as an abort, as does an AbortError', () => {
      expect(new InterruptedError()).to.deep.include({code: 'INTERRUPTED', exit: 130, message: 'Interrupted.'})
      expect(isAbortError(new InterruptedError())).to.equal(true)
      expect(isAbortError(Object.assign(new Error('x'), {name: 'AbortError'}))).to.equal(true)
      expect(isAbortError(new Error('x'))).to.equal(false)
      expect(messageOf(new Error('m'))).to.equal('m')
      expect(messageOf(42)).to.equal('42')
    })
  })
})

import {expect} from 'chai'

import {toRuntimeError} from '../../../src/adapters/engine-errors.js'
import {RuntimeError} from '../../../src/engine/errors.js'

/** An error as docker-modem makes one for an engine's answer. */
function answer(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message}`), {json: {message}, statusCode})
}

describe('toRuntimeError: what an engine error means', () => {
  it('by HTTP status, keeping the engine’s own words after what stigmer was doing', () => {
    const notFound = toRuntimeError(answer(404, 'No such container: x'), 'Could not inspect x')
    expect([notFound.reason, notFound.message, notFound.statusCode]).to.deep.equal([
      'not-found',
      'Could not inspect x: No such container: x',
      404,
    ])
    expect(toRuntimeError(answer(409, 'name in use'), 'x').reason).to.equal('conflict')
    expect(toRuntimeError(answer(401, 'who are you'), 'x').reason).to.equal('auth')
    expect(toRuntimeError(answer(403, 'no'), 'x').reason).to.equal('auth')
    expect(toRuntimeError(answer(500, 'no space left on device'), 'x').reason).to.equal('engine')
  })

  it('by the words where Podman answers 500 for a conflict or a refused login', () => {
    expect(toRuntimeError(answer(500, 'the container name "a" is already in use'), 'x').reason).to.equal('conflict')
    expect(toRuntimeError(answer(500, 'container state improper'), 'x').reason).to.equal('conflict')
    expect(toRuntimeError(answer(500, 'unauthorized: authentication required'), 'x').reason).to.equal('auth')
  })

  it('a streamed endpoint’s error keeps the words after docker-modem’s prefix', () => {
    const error = Object.assign(new Error('(HTTP code 500) server error - manifest unknown '), {statusCode: 500})
    expect(toRuntimeError(error, 'Could not pull a').message).to.equal('Could not pull a: manifest unknown')
  })

  it('socket errors: unreachable, or permission for a socket the user may not open', () => {
    for (const code of ['ECONNREFUSED', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'])
      expect(toRuntimeError(Object.assign(new Error(code), {code}), 'x').reason, code).to.equal('unreachable')
    expect(toRuntimeError(Object.assign(new Error('EACCES'), {code: 'EACCES'}), 'x').reason).to.equal('permission')
  })

  it('ssh2 failures (they carry a level) map to unreachable and say SSH', () => {
    const auth = Object.assign(new Error('All configured authentication methods failed'), {
      level: 'client-authentication',
    })
    const mapped = toRuntimeError(auth, 'Could not inspect x')
    expect(mapped.reason).to.equal('unreachable')
    expect(mapped.message).to.contain('SSH connection')
  })

  it('a cancelled request is aborted; a RuntimeError passes through as it is', () => {
    const abort = Object.assign(new Error('The operation was aborted'), {name: 'AbortError'})
    expect([toRuntimeError(abort, 'x').reason, toRuntimeError(abort, 'x').message]).to.deep.equal([
      'aborted',
      'Cancelled.',
    ])
    const own = new RuntimeError('timeout', 'too slow')
    expect(toRuntimeError(own, 'x')).to.equal(own)
  })
})

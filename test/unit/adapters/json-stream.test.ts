import {expect} from 'chai'
import {PassThrough, Readable} from 'node:stream'

import {classifyStreamError, followJsonStream, type StreamMessage} from '../../../src/adapters/json-stream.js'
import {RuntimeError} from '../../../src/engine/errors.js'
import {rejectionOf} from '../../helpers/rejection.js'

const rejection = async (promise: Promise<unknown>) => rejectionOf(promise, RuntimeError)

const lines = (...messages: object[]) => messages.map((m) => JSON.stringify(m) + '\n')

describe('JSON progress streams', () => {
  describe('followJsonStream', () => {
    it('reads every message, in order, and resolves with them when the stream ends cleanly', async () => {
      const seen: StreamMessage[] = []
      const all = await followJsonStream(
        Readable.from(
          lines(
            {id: 'a', status: 'Pulling fs layer'},
            {id: 'a', progressDetail: {current: 5, total: 10}, status: 'Downloading'},
            {status: 'Done'},
          ),
        ),
        (m) => seen.push(m),
      )
      expect(all).to.deep.equal(seen)
      expect(seen.map((m) => m.status)).to.deep.equal(['Pulling fs layer', 'Downloading', 'Done'])
      expect(seen[1]!.progressDetail).to.deep.equal({current: 5, total: 10})
    })

    it('an error line mid-stream rejects, although the stream ends normally afterwards', async () => {
      const seen: StreamMessage[] = []
      const stream = Readable.from(
        lines(
          {id: 'a', status: 'Pulling fs layer'},
          {
            error: 'unauthorized: authentication required',
            errorDetail: {code: 401, message: 'unauthorized: authentication required'},
          },
          {status: 'trailing message after the error'},
        ),
      )
      const error = await rejection(followJsonStream(stream, (m) => seen.push(m)))
      expect(error.reason).to.equal('auth')
      expect(error.statusCode).to.equal(401)
      expect(error.message).to.equal('unauthorized: authentication required')
      // It read to the end: the listener saw the error and what followed it.
      expect(seen).to.have.length(3)
    })

    it('an error without errorDetail still rejects, and the first error is the one reported', async () => {
      const error = await rejection(
        followJsonStream(
          Readable.from(lines({error: 'manifest unknown: manifest unknown'}, {error: 'second'})),
          () => {},
        ),
      )
      expect(error.reason).to.equal('not-found')
      expect(error.message).to.equal('manifest unknown: manifest unknown')
    })

    it('joins JSON objects split across chunks, and several objects in one chunk', async () => {
      const text = lines({status: 'one'}, {status: 'two'}, {status: 'three'}).join('')
      const chunks = [text.slice(0, 5), text.slice(5, 17), text.slice(17, 18), text.slice(18)]
      const all = await followJsonStream(Readable.from(chunks), () => {})
      expect(all.map((m) => m.status)).to.deep.equal(['one', 'two', 'three'])
    })

    it('handles a last line without a newline, Windows line ends, and non-JSON lines', async () => {
      const all = await followJsonStream(
        Readable.from(['{"status":"a"}\r\n', 'plain text\n', '{"status":"last"}']),
        () => {},
      )
      expect(all).to.deep.equal([{status: 'a'}, {stream: 'plain text'}, {status: 'last'}])
    })

    it('a multi-byte character split across chunks survives', async () => {
      const bytes = Buffer.from(JSON.stringify({stream: 'héllo ✓'}) + '\n')
      const cut = bytes.indexOf(0xe2) + 1
      const all = await followJsonStream(Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]), () => {})
      expect(all[0]!.stream).to.equal('héllo ✓')
    })

    it('aborting rejects with reason aborted and destroys the stream', async () => {
      const stream = new PassThrough()
      const controller = new AbortController()
      const pending = followJsonStream(stream, () => {}, controller.signal)
      stream.write(JSON.stringify({status: 'started'}) + '\n')
      setTimeout(() => controller.abort(), 10)
      const error = await rejection(pending)
      expect(error.reason).to.equal('aborted')
      expect(stream.destroyed).to.equal(true)
    })

    it('an already-aborted signal rejects at once', async () => {
      const controller = new AbortController()
      controller.abort()
      const error = await rejection(followJsonStream(new PassThrough(), () => {}, controller.signal))
      expect(error.reason).to.equal('aborted')
    })

    it('a stream that errors rejects with that error', async () => {
      const stream = new PassThrough()
      const pending = followJsonStream(stream, () => {})
      stream.destroy(new Error('socket hang up'))
      let caught: unknown
      try {
        await pending
      } catch (error) {
        caught = error
      }

      expect((caught as Error).message).to.equal('socket hang up')
    })
  })

  describe('classifyStreamError', () => {
    it('registry auth failures', () => {
      for (const text of [
        'unauthorized: authentication required',
        'denied: requested access to the resource is denied',
        'Get "https://r/v2/": no basic auth credentials',
        'incorrect username or password',
        'received unexpected HTTP status: 403 Forbidden',
      ]) {
        expect(classifyStreamError(text), text).to.equal('auth')
      }
    })

    it('missing images, including Docker Hub\'s "pull access denied" for a repo that does not exist', () => {
      for (const text of [
        'manifest unknown: manifest unknown',
        'manifest for 127.0.0.1:5000/nope:t not found: manifest unknown',
        "pull access denied for nope, repository does not exist or may require 'docker login'",
        'name unknown: repository name not known to registry',
      ]) {
        expect(classifyStreamError(text), text).to.equal('not-found')
      }
    })

    it('anything else is a stream error', () => {
      expect(classifyStreamError('write /var/lib/docker/tmp: no space left on device')).to.equal('stream')
    })
  })
})

import {expect} from 'chai'

import type {ContainerRuntime, ImageInfo, PullOptions, PullResult} from '../../../src/engine/types.js'
import type {PullReporter, PullStats} from '../../../src/ui/pull-reporter.js'

import {RuntimeError} from '../../../src/engine/errors.js'
import {firstRunMessage, isTransient, platformOf, pullImage} from '../../../src/image/pull.js'
import {InterruptedError, StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {rejectionOf} from '../../helpers/rejection.js'

function recorder(): PullReporter & {ended: string[]; messages: string[]; updates: PullStats[]} {
  const r = {
    begin() {},
    end(outcome: string) {
      r.ended.push(outcome)
    },
    ended: [] as string[],
    message(text: string) {
      r.messages.push(text)
    },
    messages: [] as string[],
    update(stats: PullStats) {
      r.updates.push(stats)
    },
    updates: [] as PullStats[],
  }
  return r
}

const failure = async (promise: Promise<unknown>) => rejectionOf(promise, StigmerError)

describe('pull service', () => {
  describe('isTransient', () => {
    it('network trouble and rate limits are worth a retry', () => {
      for (const error of [
        new RuntimeError('timeout', 'Timed out'),
        new RuntimeError('unreachable', 'connect ECONNREFUSED'),
        new RuntimeError('engine', 'Get "https://ghcr.io/v2/": net/http: TLS handshake timeout'),
        new RuntimeError('engine', 'toomanyrequests: You have reached your pull rate limit'),
        new RuntimeError('stream', 'received unexpected HTTP status: 503 Service Unavailable'),
        new RuntimeError('stream', 'read tcp 10.0.0.2:5555->1.2.3.4:443: read: connection reset by peer'),
        new RuntimeError('engine', 'unexpected EOF'),
      ]) {
        expect(isTransient(error), error.message).to.equal(true)
      }
    })

    it('a missing image, refused credentials, Ctrl-C and foreign errors are not', () => {
      for (const error of [
        new RuntimeError('not-found', 'manifest unknown (timeout in name)'),
        new RuntimeError('auth', 'unauthorized: authentication required (429)'),
        new RuntimeError('aborted', 'Cancelled (timeout)'),
        new RuntimeError('engine', 'invalid reference format'),
        new Error('connection reset'),
        'timeout',
      ]) {
        expect(isTransient(error), String(error)).to.equal(false)
      }
    })
  })

  describe('platformOf', () => {
    it("a local socket's engine is not asked: it runs on this machine's architecture", async () => {
      const runtime = {
        endpoint: {url: 'unix:///run/podman/podman.sock'},
        info() {
          throw new Error('info() should not be called')
        },
      } as unknown as ContainerRuntime
      expect(await platformOf(runtime, 'x64')).to.deep.equal({architecture: 'amd64', os: 'linux'})
      expect(await platformOf(runtime, 'arm64')).to.deep.equal({architecture: 'arm64', os: 'linux'})
    })

    it('a remote engine (tcp, ssh) is asked', async () => {
      const runtime = {
        endpoint: {url: 'ssh://me@build-box'},
        async info() {
          return {arch: 'aarch64', os: 'linux'}
        },
      } as unknown as ContainerRuntime
      expect(await platformOf(runtime, 'x64')).to.deep.equal({architecture: 'arm64', os: 'linux'})
    })
  })

  describe('firstRunMessage', () => {
    it('names the image and its size when known', () => {
      expect(firstRunMessage('ghcr.io/stigmer/agent-runner:v1.2.3', 123_400_000)).to.equal(
        'One-time setup: downloading the agent-runner image ghcr.io/stigmer/agent-runner:v1.2.3 (123 MB). Later starts use the local copy.',
      )

      expect(firstRunMessage('x:1', undefined)).to.equal(
        'One-time setup: downloading the agent-runner image x:1. Later starts use the local copy.',
      )
    })
  })

  describe('pullImage (a scripted engine)', () => {
    const image: ImageInfo = {
      architecture: 'amd64',
      created: '',
      digests: [],
      id: 'sha256:1',
      labels: {},
      os: 'linux',
      size: 42,
      tags: [],
      user: '',
    }

    /** Outcomes of successive pulls; `engineDownAfter` makes ping fail from that pull on (the engine went away). */
    function engine(outcomes: Array<Error | 'ok'>, engineDownAfter = Infinity): ContainerRuntime & {calls: number} {
      const fake = {
        calls: 0,
        cli: 'docker',
        displayName: 'Docker',
        async inspectImage() {
          return image
        },
        async ping() {
          if (fake.calls >= engineDownAfter) throw new Error('Docker did not answer at unix:///var/run/docker.sock')
        },
        async pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
          const outcome = outcomes[Math.min(fake.calls, outcomes.length - 1)]!
          fake.calls++
          if (options.signal?.aborted) throw new RuntimeError('aborted', 'Cancelled.')
          options.onProgress?.({current: 5, id: 'l1', kind: 'layer', status: 'Downloading', total: 10})
          if (outcome !== 'ok') throw outcome
          return {digest: 'sha256:d', id: 'sha256:1', ref}
        },
      }
      return fake as unknown as ContainerRuntime & {calls: number}
    }

    it('retries transient failures with backoff, then succeeds', async () => {
      const runtime = engine([
        new RuntimeError('unreachable', 'connection refused'),
        new RuntimeError('engine', 'toomanyrequests'),
        'ok',
      ])
      const reporter = recorder()
      const outcome = await pullImage(runtime, 'r/x:1', {backoffMs: 1, reporter, sizeBytes: 10})
      expect(outcome).to.include({attempts: 3, digest: 'sha256:d', imageSizeBytes: 42, sizeBytes: 10})
      expect(reporter.messages).to.have.length(2)
      expect(reporter.messages[0]).to.match(/retrying in .* \(attempt 2 of 4\)/)
      expect(reporter.ended).to.deep.equal(['ok'])
      expect(reporter.updates.at(-1)).to.include({currentBytes: 5, totalBytes: 10})
    })

    it('gives up after the retries: PULL_FAILED (21) naming the manual pull command', async () => {
      const runtime = engine([new RuntimeError('unreachable', 'connection refused')])
      const error = await failure(
        pullImage(runtime, 'r/x:1', {backoffMs: 1, reporter: recorder(), retries: 2, sizeBytes: 1}),
      )
      expect(runtime.calls).to.equal(3)
      expect(error.exit).to.equal(ExitCode.PULL_FAILED)
      expect(error.message).to.match(/after 3 attempts/)
      expect(error.command).to.equal('docker pull r/x:1')
    })

    it('the engine stops answering mid-pull: RUNTIME_UNREACHABLE (11) at once, no retries, not "check your network"', async () => {
      const runtime = engine([new RuntimeError('unreachable', 'Could not pull r/x:1: aborted')], 1)
      const reporter = recorder()
      const error = await failure(pullImage(runtime, 'r/x:1', {backoffMs: 1, reporter, retries: 3, sizeBytes: 1}))
      expect(runtime.calls).to.equal(1)
      expect(error).to.deep.include({code: 'RUNTIME_UNREACHABLE', exit: ExitCode.RUNTIME_UNREACHABLE})
      expect(error.message).to.equal(
        'Docker stopped answering while pulling r/x:1: Docker did not answer at unix:///var/run/docker.sock',
      )
      expect(error.suggestions.join(' ')).to.not.contain('network')
      expect(reporter.messages).to.deep.equal([])
      expect(reporter.ended).to.deep.equal(['failed'])
    })

    it('a missing image: IMAGE_NOT_FOUND (20) at once, naming the image and the manual command', async () => {
      const runtime = engine([new RuntimeError('not-found', 'manifest unknown')])
      const error = await failure(pullImage(runtime, 'r/x:1', {backoffMs: 1, sizeBytes: 1}))
      expect(runtime.calls).to.equal(1)
      expect(error.exit).to.equal(ExitCode.IMAGE_NOT_FOUND)
      expect(error.message).to.include('r/x:1')
      expect(error.command).to.equal('docker pull r/x:1')
    })

    it('refused credentials: REGISTRY_AUTH (24) with how to log in', async () => {
      const runtime = engine([new RuntimeError('auth', 'unauthorized')])
      const error = await failure(pullImage(runtime, 'registry.example.com/x:1', {sizeBytes: 1}))
      expect(error.exit).to.equal(ExitCode.REGISTRY_AUTH)
      expect(error.suggestions.join(' ')).to.include('stigmer image login registry.example.com')
    })

    it('Ctrl-C: InterruptedError (130), no retry', async () => {
      const controller = new AbortController()
      controller.abort()
      const runtime = engine([new RuntimeError('unreachable', 'connection refused')])
      const error = await failure(pullImage(runtime, 'r/x:1', {backoffMs: 1, signal: controller.signal, sizeBytes: 1}))
      expect(error).to.be.instanceOf(InterruptedError)
      expect(runtime.calls).to.equal(1)
    })

    it('the overall timeout: PULL_FAILED with how to raise it', async () => {
      const slow = {
        cli: 'podman',
        async inspectImage() {
          return image
        },
        pullImage(_ref: string, options: PullOptions = {}): Promise<PullResult> {
          return new Promise((_resolve, reject) => {
            options.signal?.addEventListener('abort', () => reject(new RuntimeError('aborted', 'Cancelled.')), {
              once: true,
            })
          })
        },
      } as unknown as ContainerRuntime
      const error = await failure(pullImage(slow, 'r/x:1', {sizeBytes: 1, timeoutMs: 200}))
      expect(error.exit).to.equal(ExitCode.PULL_FAILED)
      expect(error.message).to.match(/did not finish within/)
      expect(error.command).to.equal('podman pull r/x:1')
    })
  })
})

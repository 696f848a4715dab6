import {expect} from 'chai'

import type {ContainerRuntime, LogLine} from '../../../src/engine/types.js'
import type {StigmerPaths} from '../../../src/lib/paths.js'

import {RuntimeError} from '../../../src/engine/errors.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {followLogs, lineBatches, parseSince, readLogs} from '../../../src/server/logs.js'

describe('logs service', () => {
  describe('parseSince', () => {
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

    it('a duration reaching back before 1970 is a usage error (exit 2), never a negative time sent to the engine', () => {
      for (const bad of ['99999999h', '9999999999999999999999s', '1e400']) {
        let error: unknown
        try {
          parseSince(bad, now)
        } catch (error_) {
          error = error_
        }

        expect(error, bad).to.be.instanceOf(StigmerError)
        expect((error as StigmerError).exit, bad).to.equal(2)
      }

      expect(parseSince('490000h', now)).to.be.above(0)
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

  describe('the output path masks secrets and escapes', () => {
    const secret = `sk-ant-${Date.now()}-container-only`
    const container = {env: {ANTHROPIC_API_KEY: secret, MODE: 'dev'}, id: 'c1', running: true, status: 'running'}
    const fake = {
      displayName: 'Fake',
      async inspectContainer() {
        return container
      },
      async *logs(): AsyncGenerator<LogLine> {
        yield {stream: 'stdout', text: `key is ${secret}`, timestamp: undefined}
        yield {
          stream: 'stdout',
          text: '\u001B]52;c;ZXZpbA==\u0007\u001B[2Jtitle\u001B]0;pwned\u0007 done',
          timestamp: undefined,
        }
        yield {stream: 'stderr', text: 'db postgres://u:pw-9@db/x', timestamp: undefined}
      },
    } as unknown as ContainerRuntime
    const paths = {lifecycleLog: '/nonexistent/stigmer.log'} as unknown as StigmerPaths
    const options = {all: false, since: undefined, tail: undefined, timestamps: false}

    async function capture(tty: boolean, run: () => Promise<unknown>): Promise<{err: string; out: string}> {
      const saved = {
        err: process.stderr.write,
        errTty: process.stderr.isTTY,
        out: process.stdout.write,
        outTty: process.stdout.isTTY,
      }
      let out = ''
      let err = ''
      process.stdout.write = ((chunk: string) => {
        out += chunk
        return true
      }) as typeof process.stdout.write
      process.stderr.write = ((chunk: string) => {
        err += chunk
        return true
      }) as typeof process.stderr.write
      process.stdout.isTTY = tty
      process.stderr.isTTY = tty
      try {
        await run()
      } finally {
        process.stdout.write = saved.out
        process.stderr.write = saved.err
        process.stdout.isTTY = saved.outTty
        process.stderr.isTTY = saved.errTty
      }

      return {err, out}
    }

    const follow = () =>
      followLogs(fake, paths, {...options, follow: false, note() {}, signal: new AbortController().signal})

    it('text: the container’s own secret values and URL passwords are masked (no server start registered them)', async () => {
      const {err, out} = await capture(false, follow)
      expect(out).to.include('key is ****').and.not.include(secret)
      expect(err).to.include('postgres://u:****@db/x')
    })

    it('text on a terminal: OSC (title, clipboard) and CSI (clear screen) are removed', async () => {
      const {out} = await capture(true, follow)
      expect(out).to.include('title done')
      expect(out).not.to.include('\u001B').and.not.include('\u0007')
    })

    it('text in a pipe: the line is exact (only secrets masked)', async () => {
      const {out} = await capture(false, follow)
      expect(out).to.include('\u001B]52;c;ZXZpbA==\u0007')
    })

    it('--json: masked, and otherwise exact', async () => {
      const lines = await readLogs(fake, paths, options)
      expect(lines.map((l) => l.text)).to.deep.equal([
        'key is ****',
        '\u001B]52;c;ZXZpbA==\u0007\u001B[2Jtitle\u001B]0;pwned\u0007 done',
        'db postgres://u:****@db/x',
      ])
    })
  })

  describe('lineBatches', () => {
    const line = (text: string, stream: 'stderr' | 'stdout' = 'stdout'): LogLine => ({
      stream,
      text,
      timestamp: undefined,
    })

    it("uses the runtime's batches when it has them, and never its line-by-line logs", async () => {
      const runtime = {
        async *logBatches(): AsyncGenerator<readonly LogLine[]> {
          yield [line('a'), line('b', 'stderr')]
          yield [line('c')]
        },
        logs() {
          throw new Error('logs() should not be called')
        },
      } as unknown as ContainerRuntime
      const batches: LogLine[][] = []
      for await (const batch of lineBatches(runtime, 'c1', {})) batches.push([...batch])
      expect(batches.map((b) => b.map((l) => `${l.stream}:${l.text}`))).to.deep.equal([
        ['stdout:a', 'stderr:b'],
        ['stdout:c'],
      ])
    })

    it('falls back to logs() for a runtime without batches (a plugin written before them)', async () => {
      const runtime = {
        async *logs(): AsyncGenerator<LogLine> {
          yield line('a')
          yield line('b')
        },
      } as unknown as ContainerRuntime
      const texts: string[] = []
      for await (const batch of lineBatches(runtime, 'c1', {})) texts.push(batch.map((l) => l.text).join(','))
      expect(texts).to.deep.equal(['a', 'b'])
    })
  })

  describe('logs -f when the engine stops', () => {
    const paths = {lifecycleLog: '/nonexistent/stigmer.log'} as unknown as StigmerPaths
    const container = {env: {}, id: 'c1', running: true, status: 'running'}
    const down = () => new RuntimeError('unreachable', 'connect ENOENT /var/run/docker.sock')

    /** A running container whose log stream breaks (or ends) when the engine goes away; ping fails from then on. */
    function dying(how: 'breaks' | 'ends'): ContainerRuntime {
      let gone = false
      return {
        displayName: 'Docker',
        async inspectContainer() {
          if (gone) throw down()
          return container
        },
        async *logs(): AsyncGenerator<LogLine> {
          yield {stream: 'stdout', text: 'hello', timestamp: undefined}
          gone = true
          if (how === 'breaks') throw new RuntimeError('unreachable', 'Could not read logs of c1: aborted')
        },
        async ping() {
          if (gone) throw new Error('Docker did not answer at unix:///var/run/docker.sock')
        },
      } as unknown as ContainerRuntime
    }

    for (const how of ['breaks', 'ends'] as const) {
      it(`the stream ${how}: exit 11 naming the engine, not a wait that never ends`, async () => {
        const saved = process.stdout.write
        process.stdout.write = (() => true) as typeof process.stdout.write
        let caught: unknown
        try {
          await followLogs(dying(how), paths, {
            all: false,
            follow: true,
            note() {},
            signal: new AbortController().signal,
            since: undefined,
            tail: undefined,
            timestamps: false,
          })
        } catch (error) {
          caught = error
        } finally {
          process.stdout.write = saved
        }

        expect(caught).to.be.instanceOf(StigmerError)
        expect((caught as StigmerError).exit).to.equal(ExitCode.RUNTIME_UNREACHABLE)
        expect((caught as StigmerError).message).to.equal(
          'Docker stopped answering while following the logs of stigmer-agent-runner: Docker did not answer at unix:///var/run/docker.sock',
        )
      })
    }
  })
})

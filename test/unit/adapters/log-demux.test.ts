import {expect} from 'chai'
import {Readable} from 'node:stream'

import type {LogLine} from '../../../src/engine/types.js'

import {demuxLines} from '../../../src/adapters/log-demux.js'

/** One frame of the engine's multiplexed stream: 1 = stdout, 2 = stderr. */
function frame(stream: 1 | 2, text: Buffer | string): Buffer {
  const payload = Buffer.isBuffer(text) ? text : Buffer.from(text)
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

async function collect(
  chunks: Array<Buffer | string>,
  options: {raw?: boolean; timestamps?: boolean} = {},
): Promise<LogLine[]> {
  const out: LogLine[] = []
  for await (const line of demuxLines(Readable.from(chunks), options)) out.push(line)
  return out
}

const text = (lines: LogLine[]) => lines.map((l) => `${l.stream}:${l.text}`)

describe('demuxLines', () => {
  it('keeps stdout and stderr apart, one LogLine per line', async () => {
    const lines = await collect([frame(1, 'out one\nout two\n'), frame(2, 'err one\n'), frame(1, 'out three\n')])
    expect(text(lines)).to.deep.equal(['stdout:out one', 'stdout:out two', 'stderr:err one', 'stdout:out three'])
    expect(lines.every((l) => l.timestamp === undefined)).to.equal(true)
  })

  it('with timestamps, a line the engine stored in parts (each part with its own timestamp) is one line with the first timestamp', async () => {
    // Podman stores print()'s text and its newline as two records when the writes are read apart;
    // Docker splits lines over 16 kB. With timestamps=1 every part carries a timestamp.
    const lines = await collect(
      [
        frame(1, '2026-11-28T10:24:46Z tick 52\n'),
        frame(1, '2026-11-28T10:24:46.100Z tick 53'),
        frame(2, '2026-11-28T10:24:46.150Z warn tick 53\n'),
        frame(1, '2026-11-28T10:24:46.200Z \n'),
        frame(1, '2026-11-28T10:24:47.000000001Z long '),
        frame(1, '2026-11-28T10:24:47.000000002Z line\n'),
      ],
      {timestamps: true},
    )
    expect(lines).to.deep.equal([
      {stream: 'stdout', text: 'tick 52', timestamp: '2026-11-28T10:24:46Z'},
      {stream: 'stderr', text: 'warn tick 53', timestamp: '2026-11-28T10:24:46.150Z'},
      {stream: 'stdout', text: 'tick 53', timestamp: '2026-11-28T10:24:46.100Z'},
      {stream: 'stdout', text: 'long line', timestamp: '2026-11-28T10:24:47.000000001Z'},
    ])
  })

  it('reassembles frames split across chunks anywhere, even inside the 8-byte header', async () => {
    const all = Buffer.concat([frame(1, 'hello world\n'), frame(2, 'oops\n'), frame(1, 'bye\n')])
    for (const cut of [1, 3, 8, 9, 15, 20, 21, 28]) {
      const lines = await collect([all.subarray(0, cut), all.subarray(cut, cut + 3), all.subarray(cut + 3)])
      expect(text(lines), `cut at ${cut}`).to.deep.equal(['stdout:hello world', 'stderr:oops', 'stdout:bye'])
    }
  })

  it('joins a line that spans frames, per stream', async () => {
    const lines = await collect([frame(1, 'par'), frame(2, 'error '), frame(1, 'tial\n'), frame(2, 'line\n')])
    expect(text(lines)).to.deep.equal(['stdout:partial', 'stderr:error line'])
  })

  it('flushes a last line without a newline, and strips \\r', async () => {
    expect(text(await collect([frame(1, 'windows\r\nno newline')]))).to.deep.equal([
      'stdout:windows',
      'stdout:no newline',
    ])
  })

  it('splits off RFC 3339 timestamps when asked', async () => {
    const lines = await collect(
      [frame(1, '2026-11-28T07:00:01.123456789Z started up\n'), frame(2, '2026-11-28T07:00:02.5Z warn: x y\n')],
      {timestamps: true},
    )
    expect(lines).to.deep.equal([
      {stream: 'stdout', text: 'started up', timestamp: '2026-11-28T07:00:01.123456789Z'},
      {stream: 'stderr', text: 'warn: x y', timestamp: '2026-11-28T07:00:02.5Z'},
    ])
  })

  it('without timestamps asked, a line that starts with a date is left alone', async () => {
    const [line] = await collect([frame(1, '2026-11-28T07:00:01Z is a date\n')])
    expect(line).to.deep.equal({stream: 'stdout', text: '2026-11-28T07:00:01Z is a date', timestamp: undefined})
  })

  it('a TTY container sends a raw stream: everything is stdout', async () => {
    expect(text(await collect(['line one\nline', ' two\n'], {raw: true}))).to.deep.equal([
      'stdout:line one',
      'stdout:line two',
    ])
  })

  it('empty lines are kept (a log may contain them)', async () => {
    expect(text(await collect([frame(1, 'a\n\nb\n')]))).to.deep.equal(['stdout:a', 'stdout:', 'stdout:b'])
  })

  it('a character split across two frames, or two raw chunks, is kept whole', async () => {
    const bytes = Buffer.from('naïve ✓ done\n')
    const cut = bytes.indexOf(0xe2) + 1
    const framed = await collect([frame(1, bytes.subarray(0, cut)), frame(1, bytes.subarray(cut))])
    expect(text(framed)).to.deep.equal(['stdout:naïve ✓ done'])
    const raw = await collect([bytes.subarray(0, cut), bytes.subarray(cut)], {raw: true})
    expect(text(raw)).to.deep.equal(['stdout:naïve ✓ done'])
  })

  it('one chunk of many frames: runs of one stream are kept in order, and parts joined across streams', async () => {
    const chunk = Buffer.concat([
      frame(1, 'a1\n'),
      frame(1, 'a2 '),
      frame(2, 'b1\n'),
      frame(1, 'more\n'),
      frame(1, ''),
      frame(2, 'b2\nb3\n'),
      frame(1, 'a3\n'),
    ])
    expect(text(await collect([chunk]))).to.deep.equal([
      'stdout:a1',
      'stderr:b1',
      'stdout:a2 more',
      'stderr:b2',
      'stderr:b3',
      'stdout:a3',
    ])
  })
})

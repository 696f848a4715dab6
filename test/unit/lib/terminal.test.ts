import {expect} from 'chai'

import {cleanLine} from '../../../src/image/build.js'
import {forTerminal, liveTerminal, stripEscapes, useColor} from '../../../src/lib/terminal.js'

describe('terminal', () => {
  const hostile = [
    ['OSC 0 (window title, BEL)', '\u001B]0;pwned\u0007ok'],
    ['OSC 52 (clipboard write, ST)', '\u001B]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u001B\\ok'],
    ['CSI clear screen', '\u001B[2J\u001B[Hok'],
    ['colour', '\u001B[1;31mok\u001B[0m'],
    ['8-bit CSI', '\u009B2Jok'],
    ['DCS', '\u001BPq#0;2;0;0;0\u001B\\ok'],
    ['carriage return overwrite', 'evil\rok'],
    ['backspaces', 'x\bok'],
  ] as const

  it('stripEscapes removes OSC, CSI, DCS, 8-bit and control characters, keeps the text, newlines and tabs', () => {
    for (const [what, text] of hostile) expect(stripEscapes(text), what).to.match(/^(evil|x)?ok$/)
    expect(stripEscapes('a\tb\nc')).to.equal('a\tb\nc')
    expect(stripEscapes('plain ünïcode ✔')).to.equal('plain ünïcode ✔')
  })

  it('forTerminal strips on a terminal and keeps the text exact in a pipe', () => {
    const text = '\u001B]0;pwned\u0007ok'
    expect(forTerminal(text, {isTTY: true})).to.equal('ok')
    expect(forTerminal(text, {isTTY: false})).to.equal(text)
  })

  it('cleanLine (build output) uses the same stripping: one printable line', () => {
    expect(cleanLine('\u001B]0;t\u0007step\tdone')).to.equal('step  done')
    expect(cleanLine('50%\r100%\r')).to.equal('100%')
  })

  it('one colour rule: FORCE_COLOR on, then NO_COLOR and TERM=dumb off, then the terminal decides', () => {
    expect(useColor({isTTY: true}, {})).to.equal(true)
    expect(useColor({isTTY: false}, {})).to.equal(false)
    expect(useColor({isTTY: true}, {NO_COLOR: '1'})).to.equal(false)
    expect(useColor({isTTY: true}, {NO_COLOR: ''})).to.equal(true)
    expect(useColor({isTTY: true}, {TERM: 'dumb'})).to.equal(false)
    expect(useColor({isTTY: false}, {FORCE_COLOR: '1'})).to.equal(true)
    expect(useColor({isTTY: true}, {FORCE_COLOR: '0'})).to.equal(true)
    expect(useColor({isTTY: false}, {FORCE_COLOR: '0'})).to.equal(false)
  })

  it('live redrawing only on a terminal that is not TERM=dumb', () => {
    expect(liveTerminal({isTTY: true}, {})).to.equal(true)
    expect(liveTerminal({isTTY: true}, {TERM: 'dumb'})).to.equal(false)
    expect(liveTerminal({isTTY: false}, {})).to.equal(false)
  })
})

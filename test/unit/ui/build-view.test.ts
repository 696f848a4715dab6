import {expect} from 'chai'
import {PassThrough} from 'node:stream'
import {setTimeout as sleep} from 'node:timers/promises'

import {taskBuildView} from '../../../src/ui/build-view.js'
import {listrTaskUi} from '../../../src/ui/tasks.js'

describe('build view (a task per Dockerfile step)', () => {
  it('in a pipe: every step and every output line, in order, and the notes', async () => {
    const stream = new PassThrough()
    let text = ''
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    const view = taskBuildView(
      listrTaskUi({color: false, everyOutputLine: true, live: false, stream: stream as unknown as NodeJS.WriteStream}),
    )
    view.event({kind: 'step', step: 'Step 1/2 : FROM   busybox'})
    for (const line of ['one', '', 'two']) view.event({kind: 'line', line})
    view.event({kind: 'note', text: 'a note'})
    await sleep(120)
    view.event({kind: 'step', step: 'Step 2/2 : RUN false'})
    view.event({kind: 'line', line: 'three'})
    await view.finish(false)
    const lines = text.split('\n').filter(Boolean)
    expect(lines.filter((l) => l.startsWith('› '))).to.deep.equal(['› one', '› two', '› three'])
    // In the order they came, also while the step waited for listr2 to start it.
    expect(lines.slice(1, 4)).to.deep.equal(['› one', '› two', 'a note'])
    expect(
      lines.some((l) => /^✔ Step 1\/2 : FROM busybox \[0\.\ds\]$/.test(l)),
      text,
    ).to.equal(true)
    expect(
      lines.some((l) => l.startsWith('✖ Step 2/2 : RUN false')),
      text,
    ).to.equal(true)
    expect(text.indexOf('› one')).to.be.lessThan(text.indexOf('✔ Step 1/2'))
  })
})

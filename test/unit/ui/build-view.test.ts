import {expect} from 'chai'
import {PassThrough} from 'node:stream'

import {taskBuildView} from '../../../src/services/image-build-view.js'
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
    view.event({kind: 'step', step: 'Step 2/2 : RUN false'})
    view.event({kind: 'line', line: 'three'})
    await view.finish(false)
    const lines = text.split('\n').filter(Boolean)
    expect(lines.filter((l) => l.startsWith('› '))).to.deep.equal(['› one', '› two', '› three'])
    expect(lines).to.include('a note')
    expect(lines.some((l) => /^✔ Step 1\/2 : FROM busybox \[\d+\.\ds\]$/.test(l)), text).to.equal(true)
    expect(lines.some((l) => l.startsWith('✖ Step 2/2 : RUN false')), text).to.equal(true)
    expect(text.indexOf('› one')).to.be.lessThan(text.indexOf('✔ Step 1/2'))
  })
})

import {expect} from 'chai'

import type {TaskUi} from '../../../src/ui/tasks.js'

import {type PullStats, taskReporter} from '../../../src/ui/pull-reporter.js'

/** A TaskUi that records what the pull reporter hands it. */
function recordingUi(): {outputs: Array<{milestone: boolean; text: string}>; ui: TaskUi} {
  const outputs: Array<{milestone: boolean; text: string}> = []
  const ui: TaskUi = {
    fail() {},
    info() {},
    output(text, milestone = false) {
      outputs.push({milestone, text})
    },
    skip() {},
    start() {},
    async stop() {},
    succeed() {},
    warn() {},
  }
  return {outputs, ui}
}

const stats = (over: Partial<PullStats> = {}): PullStats => ({
  bytesPerSecond: 1e6,
  currentBytes: 50e6,
  etaSeconds: 50,
  layersDone: 1,
  layersTotal: 4,
  ref: 'registry.example/app:1',
  totalBytes: 100e6,
  ...over,
})

describe('taskReporter: pull progress into the task list', () => {
  it('the size and the start of the unpacking are milestones (a log shows them between its 5 s lines); progress is not', async () => {
    const {outputs, ui} = recordingUi()
    const reporter = taskReporter(ui)
    reporter.begin('registry.example/app:1', 100e6)
    reporter.update(stats())
    await new Promise((r) => setTimeout(r, 120))
    reporter.update(stats({currentBytes: 100e6, extracting: {total: 4}, layersDone: 4}))
    await new Promise((r) => setTimeout(r, 120))
    reporter.update(stats({currentBytes: 100e6, extracting: {done: 2, total: 4}, layersDone: 4}))
    expect(outputs).to.have.length(4)
    expect(outputs[0]).to.deep.equal({
      milestone: true,
      text: 'Pulling registry.example/app:1 (100 MB to download)...',
    })
    expect(outputs[1]!.milestone).to.equal(false)
    expect(outputs[2]!.milestone).to.equal(true)
    expect(outputs[2]!.text).to.match(/downloaded, unpacking 4 layers$/)
    expect(outputs[3]!.milestone).to.equal(false)
  })

  it('the switch to unpacking is written even right after another line', () => {
    const {outputs, ui} = recordingUi()
    const reporter = taskReporter(ui)
    reporter.update(stats())
    reporter.update(stats({currentBytes: 60e6}))
    reporter.update(stats({currentBytes: 100e6, extracting: {total: 4}, layersDone: 4}))
    expect(outputs.map((o) => o.milestone)).to.deep.equal([false, true])
  })
})

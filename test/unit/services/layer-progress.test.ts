import {expect} from 'chai'

import {LayerTracker, PULL_EVENTS, PUSH_EVENTS} from '../../../src/services/layer-progress.js'
import {progressLine} from '../../../src/ui/pull-reporter.js'

describe('layer progress', () => {
  describe('pulls', () => {
    it('adds up the layers: bytes downloaded, the known total, layers done', () => {
      const t = new LayerTracker('img', PULL_EVENTS)
      t.apply({id: 'img', kind: 'layer', status: 'Pulling from stigmer/agent-runner'})
      t.apply({id: 'a', kind: 'layer', status: 'Pulling fs layer'})
      t.apply({id: 'b', kind: 'layer', status: 'Waiting'})
      t.apply({current: 100, id: 'a', kind: 'layer', status: 'Downloading', total: 1000})
      t.apply({current: 50, id: 'b', kind: 'layer', status: 'Downloading', total: 500})
      let s = t.stats()
      expect(s).to.include({currentBytes: 150, layersDone: 0, layersTotal: 2, ref: 'img', totalBytes: 1500})
      t.apply({id: 'a', kind: 'layer', status: 'Download complete'})
      t.apply({current: 500, id: 'b', kind: 'layer', status: 'Downloading', total: 500})
      t.apply({id: 'b', kind: 'layer', status: 'Pull complete'})
      s = t.stats()
      expect(s).to.include({currentBytes: 1500, layersDone: 2, layersTotal: 2, totalBytes: 1500})
    })

    it("uses the registry's size as the total when it is known", () => {
      const t = new LayerTracker('img', PULL_EVENTS, 123_456)
      t.apply({current: 10, id: 'a', kind: 'layer', status: 'Downloading', total: 1000})
      expect(t.stats().totalBytes).to.equal(123_456)
    })

    it('extraction progress does not count as download; layers already there count as done', () => {
      const t = new LayerTracker('img', PULL_EVENTS)
      t.apply({current: 1000, id: 'a', kind: 'layer', status: 'Downloading', total: 1000})
      t.apply({current: 10, id: 'a', kind: 'layer', status: 'Extracting', total: 1000})
      t.apply({id: 'c', kind: 'layer', status: 'Already exists'})
      const s = t.stats()
      expect(s.currentBytes).to.equal(1000)
      expect(s.layersDone).to.equal(1)
      expect(s.layersTotal).to.equal(2)
    })

    it('everything downloaded and not yet unpacked: the extract phase, shown on the line instead of a bar stuck at 100 %', () => {
      const t = new LayerTracker('img', PULL_EVENTS, 1500)
      t.apply({current: 1000, id: 'a', kind: 'layer', status: 'Downloading', total: 1000})
      t.apply({current: 400, id: 'b', kind: 'layer', status: 'Downloading', total: 500})
      expect(t.stats().extracting).to.equal(undefined)
      t.apply({id: 'a', kind: 'layer', status: 'Download complete'})
      t.apply({id: 'b', kind: 'layer', status: 'Download complete'})
      t.apply({current: 10, id: 'a', kind: 'layer', status: 'Extracting', total: 1000})
      expect(t.stats().extracting).to.deep.equal({done: 0, total: 2})
      t.apply({id: 'a', kind: 'layer', status: 'Pull complete'})
      const s = t.stats()
      expect(s.extracting).to.deep.equal({done: 1, total: 2})
      expect(progressLine(s, 4)).to.match(/^\[####\] 100% .*extracting, 1\/2 layers unpacked$/)
      t.apply({id: 'b', kind: 'layer', status: 'Pull complete'})
      expect(t.stats().extracting).to.equal(undefined)
    })

    it("Podman's events carry no sizes: the manifest's layer sizes move the bar as layers complete", () => {
      const sizes = new Map([
        ['aaaaaaaaaaaa', 300],
        ['bbbbbbbbbbbb', 700],
      ])
      const t = new LayerTracker('img', PULL_EVENTS, 1000, () => sizes)
      t.apply({id: 'aaaaaaaaaaaa', kind: 'layer', status: 'Pulling fs layer'})
      t.apply({id: 'bbbbbbbbbbbb', kind: 'layer', status: 'Pulling fs layer'})
      expect(t.stats().currentBytes).to.equal(0)
      t.apply({id: 'aaaaaaaaaaaa', kind: 'layer', status: 'Download complete'})
      expect(t.stats().currentBytes).to.equal(300)
      t.apply({id: 'bbbbbbbbbbbb', kind: 'layer', status: 'Download complete'})
      expect(t.stats()).to.include({currentBytes: 1000, layersDone: 2})
      expect(t.stats().extracting).to.deep.equal({done: 0, total: 2})
    })

    it('no total known: no ETA', () => {
      const t = new LayerTracker('img', PULL_EVENTS)
      t.apply({current: 10, id: 'a', kind: 'layer', status: 'Downloading'})
      expect(t.stats().totalBytes).to.equal(undefined)
      expect(t.stats().etaSeconds).to.equal(undefined)
    })
  })

  describe('pushes', () => {
    it('adds up the bytes pushed; layers the registry has count as done; status lines are not layers', () => {
      const t = new LayerTracker('localhost:5000/x:1', PUSH_EVENTS)
      t.apply({id: '1.0.0', kind: 'layer', status: 'The push refers to repository [localhost:5000/x]'})
      t.apply({id: 'a', kind: 'layer', status: 'Preparing'})
      t.apply({id: 'b', kind: 'layer', status: 'Preparing'})
      t.apply({id: 'c', kind: 'layer', status: 'Waiting'})
      t.apply({current: 512, id: 'a', kind: 'layer', status: 'Pushing', total: 2048})
      t.apply({id: 'b', kind: 'layer', status: 'Layer already exists'})
      let s = t.stats()
      expect(s).to.include({currentBytes: 512, layersDone: 1, layersTotal: 3, totalBytes: 2048})
      t.apply({current: 2048, id: 'a', kind: 'layer', status: 'Pushing', total: 2048})
      t.apply({id: 'a', kind: 'layer', status: 'Pushed'})
      t.apply({id: 'c', kind: 'layer', status: 'Mounted from library/busybox'})
      t.apply({id: '1.0.0', kind: 'layer', status: '1.0.0: digest: sha256:0123 size: 528'})
      s = t.stats()
      expect(s).to.include({currentBytes: 2048, layersDone: 3, layersTotal: 3, ref: 'localhost:5000/x:1'})
    })

    it('no layer sizes known: no total, no ETA', () => {
      const t = new LayerTracker('x', PUSH_EVENTS)
      t.apply({id: 'a', kind: 'layer', status: 'Layer already exists'})
      expect(t.stats()).to.include({etaSeconds: undefined, layersDone: 1, totalBytes: undefined})
    })
  })
})

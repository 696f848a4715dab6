import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ProgressEvent} from '../../../src/engine/types.js'

import {progressEventOf} from '../../../src/adapters/engine-api.js'
import {LayerTracker, PULL_EVENTS, PUSH_EVENTS} from '../../../src/image/layer-progress.js'
import {type PullStats, progressLine} from '../../../src/ui/pull-reporter.js'

/**
 * A pull stream recorded from a real engine (test/fixtures/pull-streams: the lab registry's
 * 400 MB image of four 100 MB layers on busybox, whose layer already existed), as the adapter
 * hands it on.
 */
function recorded(name: string): ProgressEvent[] {
  return readFileSync(join('test', 'fixtures', 'pull-streams', name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => progressEventOf(JSON.parse(line)))
    .filter((event): event is ProgressEvent => event !== undefined)
}

/** The manifest's layers of that image by short id, as the registry gives them (the base's size does not matter). */
const RECORDED_LAYERS = new Map([
  ['02b0d1248339', 100_030_713],
  ['56f72fb88578', 100_030_715],
  ['a96351a74952', 1_000_000],
  ['bc420426f8ab', 100_030_713],
  ['fc702237ebe9', 100_030_712],
])
const RECORDED_SIZE = [...RECORDED_LAYERS.values()].reduce((a, b) => a + b)

/** Every stats snapshot the reporter would be given, one per layer event. */
function replay(events: ProgressEvent[]): PullStats[] {
  const t = new LayerTracker('img', PULL_EVENTS, RECORDED_SIZE, () => RECORDED_LAYERS)
  const seen: PullStats[] = []
  for (const event of events) {
    if (event.kind !== 'layer') continue
    t.apply(event)
    seen.push(t.stats())
  }

  return seen
}

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
      expect(progressLine(s, 4)).to.match(/^\[####\] 100% .*downloaded, unpacking: 1\/2 layers done$/)
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
      // Podman says nothing of unpacking: the phase shows, without a count it cannot know.
      expect(t.stats().extracting).to.deep.equal({total: 2})
      expect(progressLine(t.stats(), 4)).to.match(/downloaded, unpacking 2 layers$/)
    })

    it('Docker 20.10, recorded: the download, then the extract phase counting layers up, then done', () => {
      const seen = replay(recorded('docker-20.10.jsonl'))
      const firstExtracting = seen.findIndex((s) => s.extracting)
      expect(firstExtracting).to.be.greaterThan(0)
      // Before it, the bar moves with the bytes; from it on, everything is downloaded.
      expect(seen[firstExtracting - 1]!.currentBytes).to.be.lessThan(RECORDED_SIZE)
      expect(seen[firstExtracting]!.currentBytes).to.be.at.least(RECORDED_SIZE - 1_000_000)
      const counts = seen.filter((s) => s.extracting).map((s) => s.extracting!.done)
      expect([...new Set(counts)]).to.deep.equal([1, 2, 3, 4])
      expect(seen.every((s) => !s.extracting || s.extracting.total === 5)).to.equal(true)
      const line = progressLine(
        seen.find((s) => s.extracting?.done === 2)!,
        4,
      )
      expect(line).to.match(/^\[####\] +\d+% .*downloaded, unpacking: 2\/5 layers done$/)
      expect(seen.at(-1)!.extracting).to.equal(undefined)
      expect(seen.at(-1)).to.include({layersDone: 5, layersTotal: 5})
    })

    it("Podman 4.3's compat stream, recorded: bytes from its Downloading events, then unpacking without a count; its config blob is no layer", () => {
      const seen = replay(recorded('podman-4.3-compat.jsonl'))
      const moving = seen.map((s) => s.currentBytes).filter((b) => b > 0 && b < RECORDED_SIZE)
      expect(moving.length, 'the bar moves before the end').to.be.greaterThan(3)
      const last = seen.at(-1)!
      expect(last).to.include({layersDone: 5, layersTotal: 5})
      expect(last.extracting).to.deep.equal({total: 5})
      expect(progressLine(last, 4)).to.match(/100% .*downloaded, unpacking 5 layers$/)
    })

    it("Podman 4.3's libpod pull stream, recorded, has no layer events at all (why the compat endpoint is used)", () => {
      const events = recorded('podman-4.3-libpod.jsonl')
      expect(events.length).to.be.greaterThan(3)
      expect(events.every((e) => e.kind === 'status')).to.equal(true)
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

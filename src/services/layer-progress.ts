import type {LayerProgress} from '../adapters/types.js'
import type {PullStats} from '../ui/pull-reporter.js'

/**
 * How an engine words per-layer events for one kind of transfer. Pulls and
 * pushes share the arithmetic (LayerTracker) and differ only in these words.
 */
export interface LayerVocabulary {
  /** Events about a layer; anything else ("Pulling from ...", "v1: digest: ...") is a status line. */
  readonly layer: RegExp
  /** Events whose `total` is the layer's size. */
  readonly sized: RegExp
  /** Events whose `current` is the bytes transferred so far (not extraction progress). */
  readonly transferring: RegExp
  /** Events that mean the layer needs no more transfer. */
  readonly done: RegExp
}

export const PULL_EVENTS: LayerVocabulary = {
  done: /download complete|pull complete|already exists|verifying checksum/i,
  layer: /^(?!pulling from|digest:|status:)/i,
  sized: /download|pulling fs layer|waiting|copying/i,
  transferring: /^download(ing)?/i,
}

export const PUSH_EVENTS: LayerVocabulary = {
  done: /^(pushed|layer already exists|mounted from)/i,
  layer: /^(pushing|pushed|layer already exists|mounted from|preparing|waiting)/i,
  sized: /^pushing/i,
  transferring: /^pushing/i,
}

/** Folds per-layer events into one running total: bytes, layers done, rate, ETA. */
export class LayerTracker {
  private readonly layers = new Map<string, {current: number; done: boolean; total: number | undefined}>()
  private readonly startedAt = Date.now()

  // sizeHint: the whole transfer's size when known beforehand (the registry's
  // manifest, for a pull); otherwise the layers' known sizes add up to it.
  constructor(
    private readonly ref: string,
    private readonly words: LayerVocabulary,
    private readonly sizeHint?: (() => number | undefined) | number,
  ) {}

  apply(event: LayerProgress): void {
    if (!this.words.layer.test(event.status)) return
    const layer = this.layers.get(event.id) ?? {current: 0, done: false, total: undefined}
    if (event.total && event.total > 0 && this.words.sized.test(event.status)) layer.total = event.total
    if (event.current !== undefined && this.words.transferring.test(event.status)) layer.current = event.current
    if (this.words.done.test(event.status)) {
      layer.done = true
      if (layer.total) layer.current = layer.total
    }

    this.layers.set(event.id, layer)
  }

  stats(): PullStats {
    let current = 0
    let known = 0
    let done = 0
    for (const layer of this.layers.values()) {
      current += layer.current
      known += layer.total ?? 0
      if (layer.done) done++
    }

    const hint = typeof this.sizeHint === 'function' ? this.sizeHint() : this.sizeHint
    const total = hint ?? (known > 0 ? known : undefined)
    const elapsed = (Date.now() - this.startedAt) / 1000
    const rate = elapsed > 0.5 ? current / elapsed : 0
    return {
      bytesPerSecond: rate,
      currentBytes: current,
      etaSeconds: total && rate > 0 ? Math.max(0, (total - current) / rate) : undefined,
      layersDone: done,
      layersTotal: this.layers.size,
      ref: this.ref,
      totalBytes: total,
    }
  }
}

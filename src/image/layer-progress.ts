import type {LayerProgress} from '../engine/types.js'
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
  /** Events that mean a pulled layer is being unpacked into the engine's storage. */
  readonly extracting?: RegExp
  /** Events that mean a pulled layer is unpacked (or was already there). */
  readonly extracted?: RegExp
  /**
   * Events that show the engine reports unpacking layer by layer (Docker: "Extracting", "Pull
   * complete"). Podman 4 sends none: it unpacks each layer as its download ends, and says
   * nothing of it, so only "unpacking" can be shown, not how many are done.
   */
  readonly unpackReported?: RegExp
}

export const PULL_EVENTS: LayerVocabulary = {
  done: /download complete|pull complete|already exists|verifying checksum/i,
  extracted: /pull complete|already exists/i,
  extracting: /^extracting/i,
  layer: /^(?!pulling from|digest:|status:)/i,
  sized: /download|pulling fs layer|waiting|copying/i,
  transferring: /^download(ing)?/i,
  unpackReported: /^extracting|pull complete/i,
}

export const PUSH_EVENTS: LayerVocabulary = {
  done: /^(pushed|layer already exists|mounted from)/i,
  layer: /^(pushing|pushed|layer already exists|mounted from|preparing|waiting)/i,
  sized: /^pushing/i,
  transferring: /^pushing/i,
}

/** Folds per-layer events into one running total: bytes, layers done, rate, ETA. */
export class LayerTracker {
  private readonly layers = new Map<
    string,
    {current: number; done: boolean; extracted: boolean; total: number | undefined}
  >()
  private readonly startedAt = Date.now()
  private unpackReported = false

  // sizeHint: the whole transfer's size when known beforehand (the registry's
  // manifest, for a pull); otherwise the layers' known sizes add up to it.
  // layerSizes: each layer's size by its short id (the manifest's), for engines whose
  // events carry no sizes (Podman: "Pulling fs layer", "Download complete").
  constructor(
    private readonly ref: string,
    private readonly words: LayerVocabulary,
    private readonly sizeHint?: (() => number | undefined) | number,
    private readonly layerSizes?: () => ReadonlyMap<string, number> | undefined,
  ) {}

  apply(event: LayerProgress): void {
    if (!this.words.layer.test(event.status)) return
    const layer = this.layers.get(event.id) ?? {current: 0, done: false, extracted: false, total: undefined}
    if (event.total && event.total > 0 && this.words.sized.test(event.status)) layer.total = event.total
    if (this.words.extracted?.test(event.status)) layer.extracted = true
    if (this.words.unpackReported?.test(event.status)) this.unpackReported = true
    if (event.current !== undefined && this.words.transferring.test(event.status)) layer.current = event.current
    if (this.words.done.test(event.status)) {
      layer.done = true
      if (layer.total) layer.current = layer.total
    }

    this.layers.set(event.id, layer)
  }

  /** The layers' bytes and states, added up (sizes from the registry where the engine gives none). */
  private sum(): {current: number; done: number; extracted: number; known: number; layers: number} {
    const sum = {current: 0, done: 0, extracted: 0, known: 0, layers: 0}
    const sizes = this.layerSizes?.()
    for (const [id, layer] of this.layers) {
      // Podman reports the image's config blob like a layer ("Pulling fs layer", "Download
      // complete"): not one of the manifest's layers, no size of its own, so not counted.
      if (sizes && sizes.size > 0 && !sizes.has(id) && layer.total === undefined) continue
      sum.layers++
      const size = layer.total ?? sizes?.get(id)
      sum.current += size !== undefined && layer.done ? Math.max(layer.current, size) : layer.current
      sum.known += size ?? 0
      if (layer.done) sum.done++
      if (layer.extracted) sum.extracted++
    }

    return sum
  }

  stats(): PullStats {
    const {current, done, extracted, known, layers} = this.sum()
    const hint = typeof this.sizeHint === 'function' ? this.sizeHint() : this.sizeHint
    const total = hint ?? (known > 0 ? known : undefined)
    const elapsed = (Date.now() - this.startedAt) / 1000
    const rate = elapsed > 0.5 ? current / elapsed : 0
    return {
      bytesPerSecond: rate,
      currentBytes: current,
      etaSeconds: total && rate > 0 ? Math.max(0, (total - current) / rate) : undefined,
      layersDone: done,
      layersTotal: layers,
      // Everything downloaded, not all of it unpacked: the engine is extracting (many seconds for a big image).
      ...(this.words.extracting && done === layers && done > 0 && extracted < done
        ? {extracting: this.unpackReported ? {done: extracted, total: layers} : {total: layers}}
        : {}),
      ref: this.ref,
      totalBytes: total,
    }
  }
}

/** A helper for the detection tests, not a test file. */
import type {MachineView} from '../../../../src/engine/detection/strategies.js'

export interface FakeMachineOptions {
  readonly platform?: NodeJS.Platform
  readonly env?: Record<string, string | undefined>
  readonly homedir?: string
  readonly uid?: number | undefined
  /** path -> content; a path here also exists. */
  readonly files?: Record<string, string>
  /** Paths that exist without content (sockets, folders). */
  readonly paths?: readonly string[]
  /** Commands on PATH. */
  readonly bins?: readonly string[]
}

/** A machine described in a few lines: strategies see nothing of the real one. */
export function fakeMachine(options: FakeMachineOptions = {}): MachineView {
  const files = options.files ?? {}
  const paths = new Set([...(options.paths ?? []), ...Object.keys(files)])
  const bins = new Set(options.bins ?? [])
  return {
    env: options.env ?? {},
    exists: (p) => paths.has(p),
    homedir: options.homedir ?? '/home/ann',
    platform: options.platform ?? 'linux',
    readFile: (p) => files[p],
    uid: 'uid' in options ? options.uid : 1000,
    which: (c) => (bins.has(c) ? `/usr/bin/${c}` : undefined),
  }
}

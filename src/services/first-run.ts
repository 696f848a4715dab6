import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ContainerRuntime} from '../adapters/types.js'
import type {PullReporter} from '../ui/pull-reporter.js'

import {firstRunMessage, pullImage, remoteImageSize, type PullOutcome} from './pull.js'

export interface FirstRunInput {
  readonly imagePresent: boolean
  readonly pullPolicy: 'always' | 'missing' | 'never'
  readonly useLocalImage: boolean
}

/**
 * Whether the first-run pull should happen before the command runs. Pure, so
 * unit tests can call it without the CLI. `--pull never` and
 * `--use-local-image` are the command's to report; `--pull always` is too.
 */
export function needsFirstRunPull(input: FirstRunInput): boolean {
  return !input.imagePresent && !input.useLocalImage && input.pullPolicy === 'missing'
}

const PULLED = Symbol.for('stigmer.first-run-pulled')

/** Whether the first-run hook pulled this image in this process (the command's result says so). */
export function pulledByFirstRun(ref: string): boolean {
  return ((globalThis as Record<symbol, Set<string> | undefined>)[PULLED] ?? new Set()).has(ref)
}

function markerFile(markersDir: string, ref: string): string {
  return join(markersDir, `pulled-${ref.replaceAll(/[^\w.-]+/g, '_')}`)
}

/**
 * The one-time setup: says what is downloaded and how big it is (`say`), then
 * pulls with progress. The first-run hook and `server start` both come here.
 */
export async function firstRunPull(
  runtime: ContainerRuntime,
  ref: string,
  options: {
    markersDir: string
    reporter: PullReporter
    say: (line: string) => void
    signal: AbortSignal
    timeoutMs: number
  },
): Promise<PullOutcome> {
  const size = await remoteImageSize(runtime, ref, options.signal)
  options.say(firstRunMessage(ref, size))
  const outcome = await pullImage(runtime, ref, {
    reporter: options.reporter,
    signal: options.signal,
    sizeBytes: size,
    timeoutMs: options.timeoutMs,
  })
  const store = globalThis as Record<symbol, Set<string> | undefined>
  ;(store[PULLED] ??= new Set()).add(ref)
  try {
    mkdirSync(options.markersDir, {recursive: true})
    writeFileSync(
      markerFile(options.markersDir, ref),
      JSON.stringify({at: new Date().toISOString(), digest: outcome.digest, ref}) + '\n',
    )
  } catch {
    // the marker is informational
  }

  options.say(`Downloaded ${ref}.`)
  return outcome
}

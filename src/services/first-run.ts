import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ContainerRuntime} from '../adapters/types.js'

import {lineReporter, silentReporter, ttyReporter} from '../ui/pull-reporter.js'
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

/** The one-time setup: says what is downloaded and how big it is, then pulls with progress. */
export async function firstRunPull(
  runtime: ContainerRuntime,
  ref: string,
  options: {json: boolean; markersDir: string; signal: AbortSignal; timeoutMs: number; tty: boolean},
): Promise<PullOutcome> {
  const size = await remoteImageSize(runtime, ref, options.signal)
  if (!options.json) process.stderr.write(firstRunMessage(ref, size) + '\n')
  const reporter = options.json ? silentReporter : options.tty ? ttyReporter() : lineReporter()
  const outcome = await pullImage(runtime, ref, {
    reporter,
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

  if (!options.json) process.stderr.write(`Downloaded ${ref}.\n`)
  return outcome
}

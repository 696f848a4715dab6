import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ContainerRuntime} from '../engine/types.js'
import type {PullReporter} from '../ui/pull-reporter.js'

import {firstRunMessage, pullImage, remoteImageSize, type PullOutcome} from './pull.js'

export interface FirstRunInput {
  readonly imagePresent: boolean
  readonly pullPolicy: 'always' | 'missing' | 'never'
  readonly useLocalImage: boolean
}

/**
 * Whether this is the first-run pull (the one-time-setup message with the
 * download size, then the pull): the image is missing and may be pulled.
 * Pure, so unit tests can call it without the CLI. `--pull never` and
 * `--use-local-image` are reported by `ensureImage`; `--pull always` of a
 * present image is a plain pull.
 */
export function needsFirstRunPull(input: FirstRunInput): boolean {
  return !input.imagePresent && !input.useLocalImage && input.pullPolicy === 'missing'
}

function markerFile(markersDir: string, ref: string): string {
  return join(markersDir, `pulled-${ref.replaceAll(/[^\w.-]+/g, '_')}`)
}

/**
 * The one-time setup: says what is downloaded and how big it is (`say`), then
 * pulls with progress. `ensureImage` (server start, server export) comes here.
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

import type {ContainerRuntime} from './types.js'

import {StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {RuntimeError} from './errors.js'

/**
 * The engine going away in the middle of a command (issue: a pull, a start, `logs -f`): told
 * apart from a registry or network failure by asking the engine itself, and reported as exit 11.
 */

/** undefined when the engine answers a ping within 2 s; otherwise what went wrong. */
export async function engineGone(runtime: ContainerRuntime, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const deadline = AbortSignal.timeout(2000)
    await runtime.ping(signal ? AbortSignal.any([signal, deadline]) : deadline)
    return undefined
  } catch (error) {
    if (signal?.aborted) return undefined
    return error instanceof Error ? error.message : String(error)
  }
}

/** The engine stopped answering in the middle of something: exit 11, with what was going on. */
export function engineStopped(
  runtime: ContainerRuntime,
  what: string,
  detail: string,
  options: {cause?: unknown; extraSuggestions?: readonly string[]} = {},
): StigmerError {
  return new StigmerError(`${runtime.displayName} stopped answering while ${what}: ${detail}`, {
    cause: options.cause,
    code: 'RUNTIME_UNREACHABLE',
    exit: ExitCode.RUNTIME_UNREACHABLE,
    kind: 'external',
    suggestions: [
      `Start ${runtime.displayName} again (stigmer doctor shows the endpoint it uses), then run the command again.`,
      ...(options.extraSuggestions ?? []),
    ],
  })
}

/**
 * For an error from the engine in the middle of something: the exit-11 error when the engine no
 * longer answers, else undefined (the caller reports the error as it is).
 */
export async function ifEngineStopped(
  error: unknown,
  runtime: ContainerRuntime,
  what: string,
  options: {extraSuggestions?: readonly string[]; signal?: AbortSignal} = {},
): Promise<StigmerError | undefined> {
  if (!(error instanceof RuntimeError) || error.reason === 'aborted' || options.signal?.aborted) return undefined
  const gone = await engineGone(runtime, options.signal)
  return gone
    ? engineStopped(runtime, what, gone, {
        cause: error,
        ...(options.extraSuggestions ? {extraSuggestions: options.extraSuggestions} : {}),
      })
    : undefined
}

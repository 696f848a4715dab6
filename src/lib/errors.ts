import {ExitCode} from './exit-codes.js'

/**
 * The kinds of failure a user can tell apart:
 * - `user`: something the user can fix; comes with "try this" suggestions;
 * - `external`: an engine, registry or other program failed; names what failed;
 * - `bug`: stigmer itself is wrong.
 */
export type ErrorKind = 'bug' | 'external' | 'user'

export interface StigmerErrorOptions {
  readonly kind?: ErrorKind
  /** Stable machine-readable code, e.g. NO_RUNTIME, PULL_FAILED. */
  readonly code: string
  readonly exit: number
  readonly suggestions?: readonly string[]
  /** Extra detail shown under the message (probe output, log tail). */
  readonly details?: string | undefined
  /** For external failures: the equivalent command a user can run by hand. */
  readonly command?: string | undefined
  readonly cause?: unknown
  /** JSON-serialisable data for --json output. */
  readonly data?: Record<string, unknown> | undefined
}

export class StigmerError extends Error {
  readonly code: string
  readonly command: string | undefined
  readonly data: Record<string, unknown> | undefined
  readonly details: string | undefined
  readonly exit: number
  readonly kind: ErrorKind
  readonly suggestions: readonly string[]

  constructor(message: string, options: StigmerErrorOptions) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'StigmerError'
    this.kind = options.kind ?? 'user'
    this.code = options.code
    this.exit = options.exit
    this.suggestions = options.suggestions ?? []
    this.details = options.details
    this.command = options.command
    this.data = options.data
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exit: this.exit,
      kind: this.kind,
      message: this.message,
      ...(this.details === undefined ? {} : {details: this.details}),
      ...(this.command === undefined ? {} : {command: this.command}),
      ...(this.suggestions.length === 0 ? {} : {suggestions: this.suggestions}),
      ...(this.data === undefined ? {} : {data: this.data}),
    }
  }
}

export function usageError(message: string, suggestions: readonly string[] = []): StigmerError {
  return new StigmerError(message, {code: 'USAGE', exit: ExitCode.USAGE, kind: 'user', suggestions})
}

export class InterruptedError extends StigmerError {
  constructor(what = 'Interrupted') {
    super(`${what}.`, {code: 'INTERRUPTED', exit: ExitCode.INTERRUPTED, kind: 'user'})
  }
}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof InterruptedError ||
    (error instanceof Error && (error.name === 'AbortError' || (error as {code?: string}).code === 'ABORT_ERR'))
  )
}

/** Render an unknown thrown value as a message, without secrets (callers redact). */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

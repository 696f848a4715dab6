/**
 * Errors raised by adapters, in stigmer's vocabulary. Services turn them into
 * StigmerErrors with user-facing messages and exit codes.
 */
export type RuntimeErrorReason =
  | 'aborted'
  | 'auth'
  | 'build'
  | 'conflict'
  | 'engine'
  | 'not-found'
  | 'permission'
  | 'stream'
  | 'timeout'
  | 'unreachable'
  | 'unsupported'

export class RuntimeError extends Error {
  readonly reason: RuntimeErrorReason
  readonly statusCode: number | undefined
  /** Build: the step that failed and its output. */
  readonly step: string | undefined
  readonly output: string | undefined

  constructor(
    reason: RuntimeErrorReason,
    message: string,
    options: {cause?: unknown; output?: string; statusCode?: number; step?: string} = {},
  ) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'RuntimeError'
    this.reason = reason
    this.statusCode = options.statusCode
    this.step = options.step
    this.output = options.output
  }
}

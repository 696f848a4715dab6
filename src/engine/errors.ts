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

/**
 * The one reading of engine and registry error text. Engines and registries report a refused
 * login, a missing image or a credential store that failed in words, through the API, a
 * progress stream or a CLI's stderr; these are the words.
 */
const AUTH_PATTERN =
  /unauthorized|authentication required|denied|\b401\b|\b403\b|\bincorrect\b|invalid (?:username|password|credential)|no basic auth credentials/i
const NOT_FOUND_PATTERN =
  /not found|manifest unknown|does not exist|no such image|repository .* not found|name unknown|pull access denied/i
/** The engine's CLI could not keep a login: its credential helper, its config or auth file. */
const LOCAL_STORE_PATTERN =
  /error (?:storing|saving|getting) credentials|docker-credential-|credentials store|error loading config file|config file|invalid character|unmarshal|auth\.json|config\.json/i

/** The registry (or engine) refused the credentials, or wants some. */
export function isAuthFailure(text: string): boolean {
  return AUTH_PATTERN.test(text)
}

/** A login was not kept because the engine's credential store failed, not the registry. */
export function isLocalStoreFailure(text: string): boolean {
  return LOCAL_STORE_PATTERN.test(text)
}

/** What an error message of a pull, push or build stream means. */
export function classifyErrorText(message: string): 'auth' | 'not-found' | undefined {
  if (
    /pull access denied|manifest unknown|not found|name unknown|does not exist/i.test(message) &&
    !/unauthorized/i.test(message)
  )
    return 'not-found'
  if (isAuthFailure(message)) return 'auth'
  if (NOT_FOUND_PATTERN.test(message)) return 'not-found'
  return undefined
}

import {isAuthFailure, RuntimeError, type RuntimeErrorReason} from '../engine/errors.js'

/** Socket errors that mean the engine cannot be reached (it stopped, or its address leads nowhere). */
const UNREACHABLE_CODES = new Set([
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
  'ENOTFOUND',
  'EPIPE',
  'ETIMEDOUT',
])

/** Maps dockerode/HTTP errors to RuntimeError reasons. */
export function toRuntimeError(error: unknown, what: string): RuntimeError {
  if (error instanceof RuntimeError) return error
  const e = error as {
    code?: string
    json?: {message?: string}
    message?: string
    name?: string
    reason?: string
    statusCode?: number
  }
  // docker-modem puts the engine's own words in `json.message`, or (for streamed
  // endpoints such as pull) after "(HTTP code 500) server error - " in `message`.
  const fromMessage = e.message?.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim()
  const detail = e.json?.message ?? (fromMessage || undefined) ?? e.reason ?? String(error)
  const message = `${what}: ${detail}`.replace(/\s+$/, '')
  if (e.name === 'AbortError' || e.code === 'ABORT_ERR')
    return new RuntimeError('aborted', 'Cancelled.', {cause: error})
  if (e.code !== undefined && UNREACHABLE_CODES.has(e.code)) {
    return new RuntimeError('unreachable', message, {cause: error})
  }

  // ssh2 (ssh:// endpoints) marks its failures with a level: client-socket, client-timeout,
  // client-authentication, handshake, protocol. Each means the engine cannot be reached.
  if (typeof (error as {level?: unknown}).level === 'string') {
    return new RuntimeError('unreachable', `${what}: the SSH connection to the engine failed: ${detail}`, {
      cause: error,
    })
  }

  if (e.code === 'EACCES' || e.code === 'EPERM') return new RuntimeError('permission', message, {cause: error})
  return new RuntimeError(reasonOfAnswer(e.statusCode, detail), message, {
    cause: error,
    ...(e.statusCode ? {statusCode: e.statusCode} : {}),
  })
}

/** What an engine's error answer means: by its HTTP status, else by its words (Podman answers 500 where Docker answers 409). */
function reasonOfAnswer(statusCode: number | undefined, detail: string): RuntimeErrorReason {
  if (statusCode === 401 || statusCode === 403) return 'auth'
  if (statusCode === 404) return 'not-found'
  if (statusCode === 409 || /already in use|container state improper/i.test(detail)) return 'conflict'
  return isAuthFailure(detail) ? 'auth' : 'engine'
}

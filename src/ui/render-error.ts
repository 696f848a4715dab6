import {StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {redact} from '../lib/redact.js'
import {forTerminal} from '../lib/terminal.js'

/** Turns anything thrown into a StigmerError: unknown errors are bugs (exit 1). */
export function toStigmerError(error: unknown): StigmerError {
  if (error instanceof StigmerError) return error
  const e = error as {message?: string; oclif?: {exit?: number}}
  // oclif's own parse errors (unknown flag, missing arg) are usage errors.
  if (
    e?.oclif?.exit === 2 ||
    /Unexpected argument|Nonexistent flag|Expected --|Missing required|Parsing --/.test(e?.message ?? '')
  ) {
    return new StigmerError(e.message ?? 'Invalid usage.', {code: 'USAGE', exit: ExitCode.USAGE, kind: 'user'})
  }

  // An adapter's RuntimeError that no service turned into its own error: the engine went away
  // or refused this user. That is exit 11 / 12, never "a bug" (duck-typed: lib does not import adapters).
  const runtime = error as {name?: string; reason?: string}
  if (runtime?.name === 'RuntimeError' && (runtime.reason === 'unreachable' || runtime.reason === 'permission')) {
    const unreachable = runtime.reason === 'unreachable'
    return new StigmerError(
      unreachable
        ? `The container engine does not answer: ${e.message}`
        : `The container engine refused this user: ${e.message}`,
      {
        cause: error,
        code: unreachable ? 'RUNTIME_UNREACHABLE' : 'RUNTIME_PERMISSION',
        exit: unreachable ? ExitCode.RUNTIME_UNREACHABLE : ExitCode.RUNTIME_PERMISSION,
        kind: 'external',
        suggestions: [
          unreachable
            ? 'Check that the engine is running and reachable (stigmer doctor shows which endpoint is used and why), then try again.'
            : 'stigmer doctor shows the socket and who may open it.',
        ],
      },
    )
  }

  return new StigmerError(e?.message ?? String(error), {
    cause: error,
    code: 'INTERNAL',
    exit: ExitCode.GENERAL,
    kind: 'bug',
    suggestions: ['This looks like a bug in stigmer. Re-run with DEBUG=stigmer* and report it with the output.'],
  })
}

/** Human form, for stderr. */
export function formatError(error: StigmerError): string {
  const lines = [`Error: ${redact(error.message)}`]
  if (error.details)
    lines.push(
      '',
      ...redact(error.details)
        .split('\n')
        .map((l) => `  ${l}`),
    )
  if (error.command) lines.push('', `  Failed command: ${redact(error.command)}`)
  if (error.suggestions.length > 0) {
    lines.push('', 'Try this:', ...error.suggestions.map((s) => `  - ${redact(s)}`))
  }

  lines.push('', `(exit code ${error.exit}: ${error.code}; see docs/exit-codes.md)`)
  return lines.join('\n')
}

/** Writes the error where it belongs: one JSON object on stdout under --json, text on stderr otherwise. */
export function writeError(error: StigmerError, json: boolean): void {
  if (json) {
    process.stdout.write(redact(JSON.stringify({error: error.toJSON(), status: error.exit}, null, 2)) + '\n')
  } else {
    // Messages can carry a registry's or an engine's text: no terminal escapes reach a terminal.
    process.stderr.write(forTerminal(formatError(error), process.stderr) + '\n')
  }
}

import {addSecret, redact} from './redact.js'

/**
 * DEBUG=... turns on the debug output of stigmer's libraries: oclif prints the
 * command line, docker-modem prints request options and headers (an
 * X-Registry-Auth header is a base64 password). When DEBUG is set, bin/run.js
 * calls this before anything else loads: values given on the command line to
 * a password flag become secrets, everything written to stderr goes through
 * `redact` (which masks secret-named fields such as X-Registry-Auth and
 * password), and stderr says that the output is still for your eyes only.
 */
const PASSWORD_FLAG = /^--?(password|passwd|pass|token|secret)$/i

export function secretsInArgv(argv: readonly string[]): string[] {
  const found: string[] = []
  for (const [i, arg] of argv.entries()) {
    const eq = /^--?(password|passwd|pass|token|secret)=(.+)$/i.exec(arg)
    if (eq) found.push(eq[2]!)
    else if (PASSWORD_FLAG.test(arg) && argv[i + 1] !== undefined) found.push(argv[i + 1]!)
  }

  return found
}

export function installDebugFilter(argv: readonly string[], stderr: NodeJS.WriteStream = process.stderr): void {
  for (const secret of secretsInArgv(argv)) addSecret(secret)
  const write = stderr.write.bind(stderr) as (chunk: unknown, ...rest: unknown[]) => boolean
  stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    write(typeof chunk === 'string' ? redact(chunk) : chunk, ...rest)) as typeof stderr.write
  write(
    'stigmer: DEBUG is set. Debug output shows command lines, engine requests and file paths; stigmer masks the secrets it knows, but review it before you share it.\n',
  )
}

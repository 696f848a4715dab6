import type {RegistryCredentials} from '../engine/types.js'

import {isAuthFailure, isLocalStoreFailure, RuntimeError, type RuntimeErrorReason} from '../engine/errors.js'

export interface CliLoginOptions {
  /** The engine CLI's path. */
  readonly binary: string
  /** Its name, for the message ("docker", "podman"). */
  readonly cli: string
  readonly credentials: RegistryCredentials
  readonly env: NodeJS.ProcessEnv
  /** What a failure that is neither the store's nor a refusal counts as. */
  readonly otherwise: RuntimeErrorReason
}

/**
 * `<cli> login --username U --password-stdin REGISTRY`: the engine's own CLI stores the login
 * where it keeps logins (config.json and its credential helpers, auth.json). The password goes
 * on stdin, never on the command line. A failure of the store is `engine` (nothing was kept),
 * a refusal `auth`.
 */
export async function cliLogin(options: CliLoginOptions): Promise<void> {
  const {credentials} = options
  const {execa} = await import('execa')
  const result = await execa(
    options.binary,
    ['login', '--username', credentials.username, '--password-stdin', credentials.registry],
    {env: options.env, input: credentials.password, reject: false, timeout: 60_000},
  )
  if (result.exitCode === 0) return
  const text = result.stderr.trim()
  const reason = isLocalStoreFailure(text) ? 'engine' : isAuthFailure(text) ? 'auth' : options.otherwise
  throw new RuntimeError(reason, `${options.cli} login ${credentials.registry} failed: ${text}`)
}

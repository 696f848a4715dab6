import type {ContainerRuntime, LoginStore} from '../engine/types.js'

import {capabilitiesOf} from '../engine/capabilities.js'
import {isLocalStoreFailure, RuntimeError} from '../engine/errors.js'
import {InterruptedError, StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {addSecret} from '../lib/redact.js'
import {checkLoginStore, credentialStoreFailure, type StoreMachine} from './credential-store.js'

/** Where `image login` goes when no registry is named. */
export const DEFAULT_LOGIN_REGISTRY = 'ghcr.io'

/**
 * The registry host as engines key their credentials: "https://ghcr.io/v2/" ->
 * "ghcr.io", Docker Hub's spellings -> "docker.io". A usage error for what is
 * not a host[:port].
 */
export function normalizeRegistry(input: string): string {
  const raw = input.trim()
  const host = raw
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase()
  if (
    host === '' ||
    !/^(?:[a-z\d](?:[a-z\d-]*[a-z\d])?)(?:\.[a-z\d](?:[a-z\d-]*[a-z\d])?)*(?::\d{1,5})?$|^\[[a-f\d:]+\](?::\d{1,5})?$/.test(
      host,
    )
  ) {
    throw usageError(`"${input}" is not a registry host (host or host:port, e.g. ghcr.io or 127.0.0.1:5000).`)
  }

  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return 'docker.io'
  return host
}

/** One trailing newline (and a CR before it) is not part of a piped password, as with docker login --password-stdin. */
export function passwordFromInput(text: string): string {
  return text.replace(/\n$/, '').replace(/\r$/, '')
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8')
  return text
}

/** Reads a line from a terminal with echo off. Ctrl-C interrupts, Ctrl-D or Enter ends. */
async function promptHidden(prompt: string, stdin: NodeJS.ReadStream, out: NodeJS.WriteStream): Promise<string> {
  out.write(prompt)
  const wasRaw = stdin.isRaw
  stdin.setRawMode(true)
  stdin.resume()
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = ''
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\u0003') {
            stdin.off('data', onData)
            reject(new InterruptedError())
            return
          }

          if (char === '\n' || char === '\r' || char === '\u0004') {
            stdin.off('data', onData)
            resolve(value)
            return
          }

          if (char === '\b' || char === '\u007F') value = value.slice(0, -1)
          else if (char >= ' ') value += char
        }
      }

      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(wasRaw)
    stdin.pause()
    out.write('\n')
  }
}

/**
 * The password, from stdin only: piped (read to the end) or, on a terminal, a
 * prompt without echo. Never from argv. Registered as a secret at once so no
 * message can print it.
 */
export async function readPassword(options: {
  registry: string
  stdin?: NodeJS.ReadStream
  username: string
}): Promise<string> {
  const stdin = options.stdin ?? process.stdin
  const password = stdin.isTTY
    ? await promptHidden(`Password for ${options.username} at ${options.registry}: `, stdin, process.stderr)
    : passwordFromInput(await readAll(stdin))
  addSecret(password)
  if (password === '') {
    throw usageError('No password was given on stdin.', [
      `Pipe it in: printf '%s' "$TOKEN" | stigmer image login ${options.registry} --username ${options.username} --password-stdin`,
    ])
  }

  return password
}

/** What to type to log in; also used by `image push` when a registry refuses. */
export function loginHint(registry: string, username?: string): string {
  return `stigmer image login ${registry} --username ${username ?? '<user>'} --password-stdin`
}

/** ghcr.io and Docker Hub want tokens, not account passwords. */
export function tokenHint(registry: string): string | undefined {
  if (registry === 'ghcr.io')
    return 'For ghcr.io the password is a GitHub personal access token with the write:packages scope (read:packages to pull).'
  if (registry === 'docker.io')
    return 'For Docker Hub use an access token (Account settings > Personal access tokens) as the password.'
  return undefined
}

export interface LoginResult {
  readonly registry: string
  readonly username: string
  readonly runtime: string
  /** How the credentials were stored: the engine's own mechanism. */
  readonly storedWith: string
}

/** Verifies the credentials with the engine, then stores them the way `docker login` / `podman login` does. */
export async function registryLogin(
  runtime: ContainerRuntime,
  credentials: {password: string; registry: string; username: string},
  machine?: StoreMachine,
): Promise<LoginResult> {
  addSecret(credentials.password)
  // Before the registry is asked: a store that cannot keep the login fails now, on its own terms.
  const {loginStore} = capabilitiesOf(runtime)
  checkLoginStore(loginStore, credentials.registry, machine ?? {env: process.env})
  try {
    await runtime.login(credentials)
  } catch (error) {
    throw loginFailure(error, runtime, credentials)
  }

  return {
    registry: credentials.registry,
    runtime: runtime.name,
    storedWith: `${runtime.cli} login (${STORE_NAMES[loginStore ?? 'docker-config']})`,
    username: credentials.username,
  }
}

/** Each kind of login store, in words. */
const STORE_NAMES: Readonly<Record<LoginStore, string>> = {
  'containers-auth': "Podman's auth.json",
  'docker-config': "Docker's config.json or its credential helper",
}

function loginFailure(
  error: unknown,
  runtime: ContainerRuntime,
  credentials: {registry: string; username: string},
): StigmerError {
  const {registry, username} = credentials
  const stored = credentialStoreFailure(error, 'login', registry)
  if (stored) return stored
  const detail = (error instanceof Error ? error.message : String(error)).replace(
    `${registry} refused the login for ${username}: `,
    '',
  )
  if (error instanceof RuntimeError && error.reason === 'auth') {
    return new StigmerError(`${registry} refused the login for user ${username}.`, {
      cause: error,
      code: 'REGISTRY_AUTH',
      details: detail,
      exit: ExitCode.REGISTRY_AUTH,
      kind: 'external',
      suggestions: [
        'Check the user name and password (or token) and try again.',
        ...(tokenHint(registry) ? [tokenHint(registry)!] : []),
      ],
    })
  }

  if (error instanceof RuntimeError && error.reason === 'aborted') return new InterruptedError()
  // docker login / podman login could not keep it: a helper, or the auth file.
  if (error instanceof RuntimeError && isLocalStoreFailure(detail)) {
    const file = /config file|invalid character|unmarshal|parse|json/i.test(detail)
    return new StigmerError(`The login to ${registry} was accepted, but ${runtime.cli} could not store it: ${detail}`, {
      cause: error,
      code: file ? 'AUTH_FILE_INVALID' : 'CREDENTIAL_HELPER',
      command: `${runtime.cli} login ${registry} --username ${username} --password-stdin`,
      exit: ExitCode.CREDENTIAL_STORE,
      kind: 'external',
      suggestions: [
        file
          ? `Repair or move aside the auth file ${runtime.cli} names above, then log in again.`
          : 'Install the credential helper your config names, or remove "credsStore"/"credHelpers" from it.',
      ],
    })
  }

  return new StigmerError(`Could not log in to ${registry} with ${runtime.displayName}: ${detail}`, {
    cause: error,
    code: 'REGISTRY_UNREACHABLE',
    command: `${runtime.cli} login ${registry} --username ${username} --password-stdin`,
    exit: ExitCode.GENERAL,
    kind: 'external',
    suggestions: [
      `Check that ${registry} is reachable from ${runtime.displayName} (a registry on plain HTTP must be marked insecure for the engine).`,
    ],
  })
}

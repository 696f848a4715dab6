import {existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'

import type {RegistryCredentials} from './types.js'

/** Docker's config.json and Podman's auth.json share this shape; other keys are kept as they are. */
export interface AuthFile {
  [key: string]: unknown
  auths?: Record<string, {auth?: string; identitytoken?: string}>
  credHelpers?: Record<string, string>
  credsStore?: string
}

export type CredentialStoreProblem = 'file-invalid' | 'file-unwritable' | 'helper-failed' | 'helper-missing'

/** The local credential store (an auth file or a credential helper) cannot be read, written or run. */
export class CredentialStoreError extends Error {
  readonly problem: CredentialStoreProblem
  /** The auth file concerned. */
  readonly path: string
  /** The helper's program, docker-credential-<name>, when a helper is concerned. */
  readonly helper: string | undefined

  constructor(
    problem: CredentialStoreProblem,
    message: string,
    options: {cause?: unknown; helper?: string; path: string},
  ) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'CredentialStoreError'
    this.problem = problem
    this.path = options.path
    this.helper = options.helper
  }
}

/** The keys a registry may be stored under (Docker Hub has several spellings). */
export function registryKeys(registry: string): string[] {
  if (registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io') {
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io']
  }

  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`]
}

function readJson(path: string): AuthFile | undefined {
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as AuthFile
  } catch {
    return undefined
  }
}

/**
 * An auth file, parsed: undefined when there is none; a CredentialStoreError when it is not a
 * JSON object (docker login and podman login refuse it too; stigmer never overwrites it).
 */
export function readAuthFile(path: string): AuthFile | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CredentialStoreError('file-invalid', `${path} cannot be read: ${(error as Error).message}`, {
      cause: error,
      path,
    })
  }

  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new CredentialStoreError('file-invalid', `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      path,
    })
  }

  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CredentialStoreError('file-invalid', `${path} is not a JSON object`, {path})
  }

  const config = parsed as AuthFile
  const bad = (key: string) => new CredentialStoreError('file-invalid', `${path}: "${key}" has the wrong type`, {path})
  if (config.auths !== undefined && (typeof config.auths !== 'object' || config.auths === null)) throw bad('auths')
  if (config.credHelpers !== undefined && (typeof config.credHelpers !== 'object' || config.credHelpers === null))
    throw bad('credHelpers')
  if (config.credsStore !== undefined && typeof config.credsStore !== 'string') throw bad('credsStore')
  return config
}

/** Writes an auth file as docker login does: mode 0600, replaced in one rename. */
export function writeAuthFile(path: string, config: AuthFile): void {
  try {
    mkdirSync(dirname(path), {mode: 0o700, recursive: true})
    const temp = `${path}.${process.pid}.tmp`
    writeFileSync(temp, JSON.stringify(config, null, '\t') + '\n', {mode: 0o600})
    renameSync(temp, path)
  } catch (error) {
    throw new CredentialStoreError('file-unwritable', `${path} cannot be written: ${(error as Error).message}`, {
      cause: error,
      path,
    })
  }
}

/** The credential helper the file says keeps this registry's credentials (credHelpers, then credsStore). */
export function helperFor(config: AuthFile, registry: string): string | undefined {
  const own = registryKeys(registry)
    .map((k) => config.credHelpers?.[k])
    .find((h) => typeof h === 'string' && h !== '')
  if (own) return own
  return config.credsStore && config.credsStore !== '' ? config.credsStore : undefined
}

/** The key a credential is stored under: what docker login uses (Docker Hub's old URL, else the host). */
export function storeKey(registry: string): string {
  return registryKeys(registry)[0]!
}

/** Runs docker-credential-<helper> <action> with the input on stdin; a CredentialStoreError when it fails. */
export async function runHelper(
  program: string,
  action: 'erase' | 'store',
  input: string,
  path: string,
): Promise<{ok: true} | {notFound: true}> {
  const {execa} = await import('execa')
  const result = await execa(program, [action], {input, reject: false, timeout: 30_000})
  if (result.exitCode === 0) return {ok: true}
  const text = `${result.stderr} ${result.stdout}`.trim()
  // The helper protocol's answer for "nothing stored under that key".
  if (action === 'erase' && /credentials not found/i.test(text)) return {notFound: true}
  throw new CredentialStoreError(
    'helper-failed',
    `${program} ${action} failed${result.exitCode === undefined ? '' : ` (exit ${result.exitCode})`}: ${text.slice(0, 500) || 'no output'}`,
    {helper: program, path},
  )
}

/** Docker's client config: $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json')
}

/**
 * The auth file `podman login` writes (containers/image's default): REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/<uid>/auth.json on Linux;
 * ~/.config/containers/auth.json on macOS and Windows.
 */
export function podmanAuthFile(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  uid: number | undefined = typeof process.getuid === 'function' ? process.getuid() : undefined,
): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE
  if (platform !== 'linux') return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'containers', 'auth.json')
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json')
  return `/run/containers/${uid ?? 0}/auth.json`
}

/** Podman's auth files, in the order Podman reads them (it falls back to Docker's). */
export function podmanAuthPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths = [podmanAuthFile(env)]
  const config = join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'containers', 'auth.json')
  if (!paths.includes(config)) paths.push(config)
  paths.push(dockerConfigPath(env))
  return paths
}

function decode(auth: string, registry: string): RegistryCredentials | undefined {
  const text = Buffer.from(auth, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return {password: text.slice(colon + 1), registry, username: text.slice(0, colon)}
}

/** Runs `docker-credential-<helper> get`, the registry on stdin (never on the command line). */
async function fromHelper(helper: string, registry: string): Promise<RegistryCredentials | undefined> {
  const {execa} = await import('execa')
  for (const key of registryKeys(registry)) {
    const result = await execa(`docker-credential-${helper}`, ['get'], {input: key, reject: false, timeout: 10_000})
    if (result.exitCode === 0 && result.stdout.trim() !== '') {
      try {
        const parsed = JSON.parse(result.stdout) as {Secret?: string; Username?: string}
        if (parsed.Username && parsed.Secret) return {password: parsed.Secret, registry, username: parsed.Username}
      } catch {
        // not JSON: try the next key
      }
    }
  }

  return undefined
}

/** Credentials for a registry from a Docker-format auth file (config.json, auth.json). */
export async function credentialsFromFile(path: string, registry: string): Promise<RegistryCredentials | undefined> {
  const config = readJson(path)
  if (!config) return undefined
  const keys = registryKeys(registry)
  const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean)
  if (helper) return fromHelper(helper, registry)
  for (const key of keys) {
    const entry = config.auths?.[key]
    if (entry?.auth) return decode(entry.auth, registry)
  }

  if (config.credsStore) return fromHelper(config.credsStore, registry)
  return undefined
}

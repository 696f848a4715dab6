import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import type {RegistryCredentials} from './types.js'

interface AuthFile {
  auths?: Record<string, {auth?: string; identitytoken?: string}>
  credHelpers?: Record<string, string>
  credsStore?: string
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

/** Docker's client config: $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json')
}

/** Podman's auth files, in the order Podman reads them (it falls back to Docker's). */
export function podmanAuthPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const paths: string[] = []
  if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE)
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined
  const runtimeDir = env.XDG_RUNTIME_DIR || (uid === undefined ? undefined : uid === 0 ? '/run' : `/run/user/${uid}`)
  if (runtimeDir) paths.push(join(runtimeDir, 'containers', 'auth.json'))
  paths.push(join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'containers', 'auth.json'), dockerConfigPath(env))
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

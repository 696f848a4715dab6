import {existsSync, readFileSync, statSync} from 'node:fs'

import {StigmerError} from './errors.js'
import {ExitCode} from './exit-codes.js'

/**
 * ~/.stigmer/config.yaml. Every key is optional; flags and the environment win
 * over it (see docs/container-mode.md, "Where values come from").
 */
export interface StigmerConfig {
  /** docker, podman, or a plugin runtime. */
  runtime?: string
  /** Image to run instead of the pinned one. */
  image?: string
  /** Repository `image push` pushes to. */
  repository?: string
  workspace?: string
  network?: 'bridge' | 'host'
  pull?: 'always' | 'missing' | 'never'
  pullTimeoutSeconds?: number
  startTimeoutSeconds?: number
  /** Values for the container environment (TEMPORAL_SERVICE_ADDRESS, STIGMER_LLM_MODEL, ...). */
  env?: Record<string, string>
}

const KEYS: Record<keyof StigmerConfig, 'map' | 'number' | 'string' | readonly string[]> = {
  env: 'map',
  image: 'string',
  network: ['host', 'bridge'],
  pull: ['missing', 'always', 'never'],
  pullTimeoutSeconds: 'number',
  repository: 'string',
  runtime: 'string',
  startTimeoutSeconds: 'number',
  workspace: 'string',
}

function configError(file: string, problem: string): StigmerError {
  return new StigmerError(`The config file ${file} is invalid: ${problem}.`, {
    code: 'CONFIG',
    exit: ExitCode.CONFIG,
    suggestions: [`Fix or remove ${file}; see docs/container-mode.md for the keys it accepts.`],
  })
}

/** Validates parsed YAML into a StigmerConfig, naming the bad key. Pure, for tests. */
export function validateConfig(doc: unknown, file: string): StigmerConfig {
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw configError(file, 'the top level must be a mapping of keys')
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    // Own keys only: "constructor", "__proto__" or "toString" are unknown keys, not Object.prototype's.
    const kind = Object.hasOwn(KEYS, key) ? KEYS[key as keyof StigmerConfig] : undefined
    if (kind === undefined)
      throw configError(file, `unknown key "${key}" (known: ${Object.keys(KEYS).sort().join(', ')})`)
    if (value === null || value === undefined) continue
    out[key] = validValue(file, key, kind, value)
  }

  return out as StigmerConfig
}

/** One key's value, checked against its kind; the value to keep. */
function validValue(file: string, key: string, kind: (typeof KEYS)[keyof StigmerConfig], value: unknown): unknown {
  switch (kind) {
    case 'map': {
      return validEnvMap(file, key, value)
    }

    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
        throw configError(file, `"${key}" must be a positive number`)
      return value
    }

    case 'string': {
      if (typeof value !== 'string' || value.trim() === '')
        throw configError(file, `"${key}" must be a non-empty string`)
      return value
    }

    default: {
      if (!kind.includes(value as string))
        throw configError(file, `"${key}" must be one of ${kind.join(', ')} (got "${String(value)}")`)
      return value
    }
  }
}

/** A NAME: value mapping (env:), values as strings. */
function validEnvMap(file: string, key: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw configError(file, `"${key}" must be a mapping of NAME: value`)
  const env: Record<string, string> = {}
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (!/^[A-Za-z_]\w*$/.test(name))
      throw configError(file, `"${key}.${name}" is not a valid environment variable name`)
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw configError(file, `"${key}.${name}" must be a string`)
    // defineProperty: an env variable named __proto__ is a key like any other, never the prototype.
    Object.defineProperty(env, name, {configurable: true, enumerable: true, value: String(v), writable: true})
  }

  return env
}

/** The largest config file stigmer reads (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024

const cache = new Map<string, StigmerConfig>()

/** Reads and validates the config file; a missing file is an empty config. */
export async function loadConfig(file: string): Promise<StigmerConfig> {
  const hit = cache.get(file)
  if (hit) return hit
  if (!existsSync(file)) return {}
  let text: string
  try {
    // A config is a few lines: a huge file is a mistake, and YAML parsing it would take minutes and gigabytes.
    const {size} = statSync(file)
    if (size > MAX_CONFIG_BYTES)
      throw configError(file, `it is ${size} bytes; a config file may be at most ${MAX_CONFIG_BYTES} bytes`)
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if (error instanceof StigmerError) throw error
    throw configError(file, `it cannot be read (${(error as Error).message})`)
  }

  const {parse} = await import('yaml')
  let doc: unknown
  try {
    doc = parse(text)
  } catch (error) {
    throw configError(file, `it is not valid YAML (${(error as Error).message.split('\n')[0]})`)
  }

  const config = validateConfig(doc, file)
  cache.set(file, config)
  return config
}

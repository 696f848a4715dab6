import {maskValue} from '../lib/redact.js'
import {rewriteHostAddress} from './network.js'

/**
 * Every variable `server start` passes to the agent-runner: THE list (the
 * container reads exactly these names; docs/container-mode.md is checked
 * against it). Values come from flags, then the host environment, then `env:`
 * in ~/.stigmer/config.yaml, then the default.
 */
export interface EnvVarSpec {
  readonly name: string
  readonly description: string
  /** Fixed value: not overridable (the container mode contract). */
  readonly fixed?: string
  readonly default?: string
  /** Passed only when it has a value (API keys, optional LLM settings). */
  readonly onlyWhenSet?: boolean
  /** Holds a host address that bridge networking rewrites to the gateway name. */
  readonly hostAddress?: boolean
  /** The `server start` flag that sets it. */
  readonly flag?: string
}

export const CONTAINER_ENV: readonly EnvVarSpec[] = [
  {description: 'Run mode of the agent-runner.', fixed: 'local', name: 'MODE'},
  {description: 'Sandbox kind: plain files under SANDBOX_ROOT_DIR.', fixed: 'filesystem', name: 'SANDBOX_TYPE'},
  {description: 'Where the workspace is mounted inside the container.', fixed: '/workspace', name: 'SANDBOX_ROOT_DIR'},
  {
    default: 'localhost:7233',
    description: 'Temporal frontend, host:port.',
    flag: 'temporal-address',
    hostAddress: true,
    name: 'TEMPORAL_SERVICE_ADDRESS',
  },
  {default: 'default', description: 'Temporal namespace.', flag: 'temporal-namespace', name: 'TEMPORAL_NAMESPACE'},
  {
    default: 'agent_execution_runner',
    description: 'Task queue the runner polls.',
    name: 'TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE',
  },
  {
    default: 'localhost:7234',
    description: 'Stigmer backend, plain host:port.',
    flag: 'backend-endpoint',
    hostAddress: true,
    name: 'STIGMER_BACKEND_ENDPOINT',
  },
  {
    description: 'LLM provider (ollama, anthropic, openai, ...).',
    flag: 'llm-provider',
    name: 'STIGMER_LLM_PROVIDER',
    onlyWhenSet: true,
  },
  {description: 'LLM model name.', flag: 'llm-model', name: 'STIGMER_LLM_MODEL', onlyWhenSet: true},
  {
    description: 'LLM base URL (e.g. Ollama at http://localhost:11434). OLLAMA_BASE_URL gets the same value.',
    flag: 'llm-base-url',
    hostAddress: true,
    name: 'STIGMER_LLM_BASE_URL',
    onlyWhenSet: true,
  },
  {
    description: 'Same value as STIGMER_LLM_BASE_URL, for the Ollama client.',
    hostAddress: true,
    name: 'OLLAMA_BASE_URL',
    onlyWhenSet: true,
  },
  {description: 'API key for the LLM provider. Secret: never shown.', name: 'STIGMER_LLM_API_KEY', onlyWhenSet: true},
  {description: 'Anthropic API key. Secret: never shown.', name: 'ANTHROPIC_API_KEY', onlyWhenSet: true},
  {description: 'OpenAI API key. Secret: never shown.', name: 'OPENAI_API_KEY', onlyWhenSet: true},
  {default: 'INFO', description: 'Log level of the agent-runner.', flag: 'log-level', name: 'LOG_LEVEL'},
]

/** A variable's value when nothing sets it (the table's default), for readers of a container's environment. */
export function envDefault(name: string): string {
  return CONTAINER_ENV.find((v) => v.name === name)?.default ?? ''
}

export interface EnvInputs {
  /** Values from flags, by variable name. */
  readonly flags: Readonly<Record<string, string | undefined>>
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly configEnv: Readonly<Record<string, string>>
  /** --env KEY=VALUE, added last (they win over everything but the fixed values). */
  readonly extra: Readonly<Record<string, string>>
  /** Bridge networking: rewrite host addresses to this name. */
  readonly gatewayName?: string | undefined
}

export interface ContainerEnvironment {
  readonly env: Record<string, string>
  /** Where each value came from: flag, host environment, config file, default, fixed, --env. */
  readonly sources: Record<string, string>
  /** Host addresses that were rewritten for bridge networking: name -> original. */
  readonly rewritten: Record<string, string>
}

/** Assembles the container's environment. Pure: tests feed it any inputs. */
export function buildContainerEnv(inputs: EnvInputs): ContainerEnvironment {
  const env: Record<string, string> = {}
  const sources: Record<string, string> = {}
  const rewritten: Record<string, string> = {}
  const nonEmpty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v)
  for (const spec of CONTAINER_ENV) {
    if (spec.fixed !== undefined) {
      env[spec.name] = spec.fixed
      sources[spec.name] = 'fixed'
      continue
    }

    const candidates: Array<[string | undefined, string]> = [
      [nonEmpty(inputs.flags[spec.name]), spec.flag ? `--${spec.flag}` : 'flag'],
      [nonEmpty(inputs.hostEnv[spec.name]), 'host environment'],
      [nonEmpty(inputs.configEnv[spec.name]), 'config file'],
      [spec.default, 'default'],
    ]
    const found = candidates.find(([v]) => v !== undefined)
    if (found && found[0] !== undefined) {
      env[spec.name] = found[0]
      sources[spec.name] = found[1]
    }
  }

  // The two LLM URL names always carry the same value.
  const llmUrl = env.STIGMER_LLM_BASE_URL ?? env.OLLAMA_BASE_URL
  if (llmUrl !== undefined) {
    const source = sources.STIGMER_LLM_BASE_URL ?? sources.OLLAMA_BASE_URL ?? 'host environment'
    env.STIGMER_LLM_BASE_URL = llmUrl
    env.OLLAMA_BASE_URL = llmUrl
    sources.STIGMER_LLM_BASE_URL = source
    sources.OLLAMA_BASE_URL = source
  }

  const fixed = new Set(CONTAINER_ENV.filter((s) => s.fixed !== undefined).map((s) => s.name))
  for (const [name, value] of Object.entries(inputs.extra)) {
    if (fixed.has(name)) continue
    env[name] = value
    sources[name] = '--env'
  }

  if (inputs.gatewayName) {
    for (const spec of CONTAINER_ENV) {
      const value = env[spec.name]
      if (!spec.hostAddress || value === undefined) continue
      const next = rewriteHostAddress(value, inputs.gatewayName)
      if (next !== value) {
        rewritten[spec.name] = value
        env[spec.name] = next
      }
    }
  }

  return {env, rewritten, sources}
}

/** The environment with secret values masked, for status, logs and --json. */
export function maskEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) out[name] = maskValue(name, value)
  return out
}

/**
 * Parses repeated --env flags: KEY=VALUE, or KEY alone to pass the host's value
 * (the way to hand over a secret without putting it on the command line).
 */
export function parseEnvFlags(
  values: readonly string[],
  hostEnv: Readonly<Record<string, string | undefined>> = process.env,
): {bad: string[]; env: Record<string, string>} {
  const env: Record<string, string> = {}
  const bad: string[] = []
  for (const raw of values) {
    const eq = raw.indexOf('=')
    const name = eq === -1 ? raw : raw.slice(0, eq)
    if (!/^[A-Za-z_]\w*$/.test(name)) {
      bad.push(raw.includes('=') ? `${name}=...` : name)
      continue
    }

    if (eq === -1) {
      const value = hostEnv[name]
      if (value !== undefined) env[name] = value
      continue
    }

    env[name] = raw.slice(eq + 1)
  }

  return {bad, env}
}

/** Namespace and task queue the runner polls, as the container gets them. */
export function taskQueueOf(env: Readonly<Record<string, string | undefined>>): {namespace: string; taskQueue: string} {
  return {
    namespace: env.TEMPORAL_NAMESPACE || envDefault('TEMPORAL_NAMESPACE'),
    taskQueue:
      env.TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE || envDefault('TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE'),
  }
}

import type {StartRequest} from './lifecycle.js'

import {resolveImage} from '../image/resolution.js'
import {loadConfig, type StigmerConfig} from '../lib/config.js'
import {usageError} from '../lib/errors.js'
import {parseDurationSeconds} from '../lib/format.js'
import {resolveWorkspace, stigmerPaths, type StigmerPaths} from '../lib/paths.js'
import {addSecretsFromEnv} from '../lib/redact.js'
import {parseEnvFlags} from './env.js'

/** The flags `server start` and `server export` share: what the container is made of. */
export interface SpecFlagValues {
  readonly 'backend-endpoint'?: string | undefined
  readonly env?: string[] | undefined
  readonly image?: string | undefined
  readonly 'llm-base-url'?: string | undefined
  readonly 'llm-model'?: string | undefined
  readonly 'llm-provider'?: string | undefined
  readonly 'log-level'?: string | undefined
  readonly network?: string | undefined
  readonly pull?: string | undefined
  readonly 'pull-timeout'?: string | undefined
  readonly 'temporal-address'?: string | undefined
  readonly 'temporal-namespace'?: string | undefined
  readonly 'use-local-image'?: boolean | undefined
  readonly workspace?: string | undefined
}

export function durationFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const parsed = parseDurationSeconds(value)
  if (parsed === undefined || parsed <= 0)
    throw usageError(`--${flag} "${value}" is not a duration.`, [`Use seconds (120) or a duration (90s, 5m).`])
  return parsed
}

/**
 * Flags, config file and environment turned into the parts of a StartRequest
 * that decide the container: one place, so `server export` builds exactly what
 * `server start` runs. Registers every secret value it sees for redaction.
 */
export async function specInputsFromFlags(
  flags: SpecFlagValues,
  cliVersion: string,
): Promise<
  Pick<
    StartRequest,
    'configEnv' | 'envFlags' | 'extraEnv' | 'hostEnv' | 'image' | 'network' | 'pull' | 'pullTimeoutMs' | 'workspace'
  > & {config: StigmerConfig; paths: StigmerPaths}
> {
  addSecretsFromEnv(process.env)
  const paths = stigmerPaths()
  const config = await loadConfig(paths.configFile)
  addSecretsFromEnv(config.env ?? {})
  const extra = parseEnvFlags(flags.env ?? [])
  if (extra.bad.length > 0)
    throw usageError(`--env ${extra.bad.join(', ')}: not a valid variable name.`, [
      'Use --env NAME=value, or --env NAME to pass your own value of NAME.',
    ])
  addSecretsFromEnv(extra.env)
  const pullTimeout = durationFlag('pull-timeout', flags['pull-timeout']) ?? config.pullTimeoutSeconds ?? 300
  const image = resolveImage({
    cliVersion,
    config,
    env: process.env,
    imageFlag: flags.image,
    useLocalImage: flags['use-local-image'],
  })
  const workspace = resolveWorkspace({
    configFile: paths.configFile,
    configured: config.workspace,
    defaultWorkspace: paths.defaultWorkspace,
    flag: flags.workspace,
  }).path
  const network = flags.network
    ? {mode: flags.network as 'bridge' | 'host', source: '--network'}
    : config.network
      ? {mode: config.network, source: 'network in the config file'}
      : undefined
  return {
    config,
    configEnv: config.env ?? {},
    envFlags: {
      LOG_LEVEL: flags['log-level'],
      STIGMER_BACKEND_ENDPOINT: flags['backend-endpoint'],
      STIGMER_LLM_BASE_URL: flags['llm-base-url'],
      STIGMER_LLM_MODEL: flags['llm-model'],
      STIGMER_LLM_PROVIDER: flags['llm-provider'],
      TEMPORAL_NAMESPACE: flags['temporal-namespace'],
      TEMPORAL_SERVICE_ADDRESS: flags['temporal-address'],
    },
    extraEnv: extra.env,
    hostEnv: process.env,
    image,
    network,
    paths,
    pull: (flags.pull ?? config.pull ?? 'missing') as 'always' | 'missing' | 'never',
    pullTimeoutMs: pullTimeout * 1000,
    workspace,
  }
}

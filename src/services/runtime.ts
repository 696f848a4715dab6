import type {Interfaces} from '@oclif/core'

type Config = Interfaces.Config

import type {ContainerRuntime} from '../adapters/types.js'
import type {DetectionResult} from '../detection/detect.js'
import type {RuntimeContext, RuntimeProvider} from '../runtimes.js'

import {detect, detectionFailure} from '../detection/detect.js'
import {currentMachine} from '../detection/machine.js'
import {loadConfig, type StigmerConfig} from '../lib/config.js'
import {StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {stigmerPaths} from '../lib/paths.js'
import {BUILTIN_PROVIDERS} from '../runtimes.js'
import {readServerState} from './server-state.js'

export interface ResolvedRuntime {
  readonly runtime: ContainerRuntime
  readonly provider: RuntimeProvider
  readonly detection: DetectionResult
  readonly ctx: RuntimeContext
}

export interface SelectOptions {
  /** --runtime */
  readonly flag?: string | undefined
  /** Prefer the engine recorded by the last `server start` (status, logs, stop, start). */
  readonly useRemembered?: boolean
  readonly env?: NodeJS.ProcessEnv
  readonly config?: Config | undefined
  readonly exhaustive?: boolean
  readonly allowSpawn?: boolean
  readonly timeoutMs?: number
}

/** Built-in runtimes plus those plugins contribute through the `stigmer:runtimes` hook. */
export async function runtimeProviders(config?: Config): Promise<RuntimeProvider[]> {
  const providers = [...BUILTIN_PROVIDERS]
  if (!config) return providers
  const hasPluginHooks = config.getPluginsList().some((p) => p.hooks['stigmer:runtimes'] && p.name !== config.name)
  if (!hasPluginHooks) return providers
  const result = await config.runHook('stigmer:runtimes', {})
  for (const success of result.successes) {
    const contributed = (Array.isArray(success.result) ? success.result : [success.result]) as RuntimeProvider[]
    for (const p of contributed) {
      if (
        p &&
        typeof p.name === 'string' &&
        typeof p.create === 'function' &&
        !providers.some((x) => x.name === p.name)
      )
        providers.push(p)
    }
  }

  return providers
}

/** The explicit choice among what is given: --runtime, then STIGMER_CONTAINER_RUNTIME, then the config file. Pure. */
export function explicitRuntimeChoice(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  config: StigmerConfig,
  configFile: string,
): undefined | {name: string; source: string} {
  if (flag) return {name: flag, source: '--runtime'}
  if (env.STIGMER_CONTAINER_RUNTIME) return {name: env.STIGMER_CONTAINER_RUNTIME, source: 'STIGMER_CONTAINER_RUNTIME'}
  if (config.runtime) return {name: config.runtime, source: `runtime in ${configFile}`}
  return undefined
}

/** Which runtime the user asked for, and where that came from. Flag > env > config file > remembered. */
export async function requestedRuntime(options: SelectOptions): Promise<{name: string; source: string} | undefined> {
  const env = options.env ?? process.env
  const paths = stigmerPaths(env)
  const explicit =
    explicitRuntimeChoice(options.flag, env, {}, paths.configFile) ??
    explicitRuntimeChoice(undefined, {}, await loadConfig(paths.configFile), paths.configFile)
  if (explicit) return explicit
  if (options.useRemembered) {
    const state = readServerState(paths.serverStateFile)
    if (state) return {name: state.runtime, source: REMEMBERED}
  }

  return undefined
}

const REMEMBERED = 'the engine that ran the last `stigmer server start`'

function remembered(requested: {source: string}): boolean {
  return requested.source === REMEMBERED
}

export async function selectRuntime(options: SelectOptions = {}): Promise<ResolvedRuntime> {
  const env = options.env ?? process.env
  const paths = stigmerPaths(env)
  const ctx: RuntimeContext = {machine: currentMachine(env), runDir: paths.runDir, stateDir: paths.stateDir}
  const providers = await runtimeProviders(options.config)
  const requested = await requestedRuntime(options)
  if (requested && remembered(requested) && !providers.some((p) => p.name === requested.name.trim().toLowerCase())) {
    throw usageError(
      `The state file ${paths.serverStateFile} names an unknown container runtime "${requested.name}" (known: ${providers.map((p) => p.name).join(', ')}): it is damaged, or was written by a plugin that is no longer installed.`,
      [
        `Remove it (it only remembers which engine ran the last start): rm ${paths.serverStateFile}`,
        'Or name the engine for this command: --runtime docker (or podman).',
      ],
    )
  }

  const detection = await detect({
    ctx,
    providers,
    ...(requested ? {requested} : {}),
    ...(options.exhaustive ? {exhaustive: true} : {}),
    ...(options.allowSpawn === undefined ? {} : {allowSpawn: options.allowSpawn}),
    ...(options.timeoutMs ? {timeoutMs: options.timeoutMs} : {}),
  })
  if (!detection.chosen || !detection.provider) {
    const failure = detectionFailure(detection, providers, ctx)
    if (requested && remembered(requested)) {
      throw new StigmerError(
        `The agent-runner was started with ${requested.name}, which is not answering now: ${failure.message}`,
        {
          code: failure.code,
          details: failure.details,
          exit: failure.exit === ExitCode.NO_RUNTIME ? ExitCode.RUNTIME_UNREACHABLE : failure.exit,
          suggestions: [...failure.suggestions, 'Or pass --runtime to use another engine.'],
        },
      )
    }

    throw failure
  }

  const runtime = await detection.provider.create(detection.chosen.candidate.endpoint, ctx)
  return {ctx, detection, provider: detection.provider, runtime}
}

const CACHE = Symbol.for('stigmer.runtime.selection')
type Cache = Map<string, Promise<ResolvedRuntime>>

/**
 * The runtime for this process, detected once. The prerun hook calls it first
 * (so a missing engine stops the command before it runs); the command gets the
 * same answer. Kept on globalThis so plugin commands share it.
 */
export function getRuntime(options: SelectOptions = {}): Promise<ResolvedRuntime> {
  const global = globalThis as Record<symbol, Cache | undefined>
  const store = global[CACHE] ?? new Map<string, Promise<ResolvedRuntime>>()
  global[CACHE] = store
  const key = `${options.flag ?? ''}|${options.useRemembered ? 'r' : ''}`
  let hit = store.get(key)
  if (!hit) {
    hit = selectRuntime(options)
    store.set(key, hit)
    hit.catch(() => store.delete(key))
  }

  return hit
}

/** Reads `--runtime X` / `--runtime=X` from raw argv (the prerun hook runs before flags are parsed). */
export function runtimeFlagFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') break
    if (arg === '--runtime') return argv[i + 1]
    if (arg.startsWith('--runtime=')) return arg.slice('--runtime='.length)
  }

  return undefined
}

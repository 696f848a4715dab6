/**
 * Which engine stigmer uses: one decision (`chooseEngine`) for every command, `doctor` and
 * `version` included, over the built-in providers and those plugins contribute.
 */

import type {Interfaces} from '@oclif/core'

type Config = Interfaces.Config

import type {MachineView} from './detection/strategies.js'
import type {ContainerRuntime, RuntimeContext, RuntimeProvider} from './types.js'

import {BUILTIN_PROVIDERS} from '../adapters/providers.js'
import {loadConfig, type StigmerConfig} from '../lib/config.js'
import {StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {stigmerPaths} from '../lib/paths.js'
import {detect, detectionFailure, type DetectionResult, type DetectOptions} from './detection/detect.js'
import {currentMachine} from './detection/machine.js'

export interface ResolvedRuntime {
  readonly runtime: ContainerRuntime
  readonly provider: RuntimeProvider
  readonly detection: DetectionResult<RuntimeProvider>
  readonly ctx: RuntimeContext
  /** Why this engine. */
  readonly reason: ChoiceReason
}

export interface SelectOptions {
  /** --runtime */
  readonly flag?: string | undefined
  /** Prefer the engine recorded by the last `server start` (status, logs, stop, start): how to read it. */
  readonly remembered?: RememberedEngineReader | undefined
  readonly env?: NodeJS.ProcessEnv
  readonly config?: Config | undefined
  readonly exhaustive?: boolean
  readonly allowSpawn?: boolean
  readonly timeoutMs?: number
}

/**
 * The engine the last `server start` ran on, and the file that says so. Read by the server's
 * state (src/server/state.ts `rememberedEngine`): the engine choice knows no server.
 */
export type RememberedEngineReader = (env: NodeJS.ProcessEnv) => undefined | {runtime: string; stateFile: string}

/** How an engine was asked for by name. */
export type RequestReason =
  | {readonly kind: 'config'; readonly file: string}
  | {readonly kind: 'env'; readonly variable: 'STIGMER_CONTAINER_RUNTIME'}
  | {readonly kind: 'flag'}
  /** The engine that ran the last `server start` (server status, logs, stop, start). */
  | {readonly kind: 'remembered'; readonly stateFile: string}

/**
 * Why an engine is (or would be) used. Data, not words: `choiceWords` renders it for
 * messages and reports.
 */
export type ChoiceReason =
  | RequestReason
  /** Found by detection: Docker first, then Podman. */
  | {readonly kind: 'detected'}
  /** The endpoint the user named (DOCKER_HOST, CONTAINER_HOST, a docker context) decided. */
  | {readonly kind: 'endpoint'; readonly source: string}
  /** Found by detection among the runtimes plugins contribute (no built-in engine answered). */
  | {readonly kind: 'plugin'; readonly plugin: string | undefined}

/** A reason in words, as messages and `doctor --json`'s `choiceSource` show it. */
export function choiceWords(reason: ChoiceReason): string {
  switch (reason.kind) {
    case 'config': {
      return `runtime in ${reason.file}`
    }

    case 'detected':
    case 'plugin': {
      return 'auto'
    }

    case 'endpoint': {
      return reason.source
    }

    case 'env': {
      return reason.variable
    }

    case 'flag': {
      return '--runtime'
    }

    case 'remembered': {
      return 'the engine that ran the last `stigmer server start`'
    }
  }
}

const ORIGIN = new WeakMap<RuntimeProvider, string>()

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
      ) {
        providers.push(p)
        if (success.plugin?.name) ORIGIN.set(p, success.plugin.name)
      }
    }
  }

  return providers
}

/** The plugin that contributed a provider; undefined for the built-in ones. */
export function pluginOf(provider: RuntimeProvider): string | undefined {
  return ORIGIN.get(provider)
}

/** The explicit choice among what is given: --runtime, then STIGMER_CONTAINER_RUNTIME, then the config file. Pure. */
export function explicitRuntimeChoice(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  config: StigmerConfig,
  configFile: string,
): undefined | {name: string; reason: RequestReason} {
  if (flag) return {name: flag, reason: {kind: 'flag'}}
  if (env.STIGMER_CONTAINER_RUNTIME)
    return {name: env.STIGMER_CONTAINER_RUNTIME, reason: {kind: 'env', variable: 'STIGMER_CONTAINER_RUNTIME'}}
  if (config.runtime) return {name: config.runtime, reason: {file: configFile, kind: 'config'}}
  return undefined
}

export interface RequestOptions {
  readonly flag?: string | undefined
  /** How to read the engine of the last `server start`, for the commands that prefer it (server/state.ts). */
  readonly remembered?: RememberedEngineReader | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
  /** The config file, already read (doctor reads it itself, to report a broken one); read here otherwise. */
  readonly stigmerConfig?: StigmerConfig | undefined
}

/** Which runtime the user asked for, and why. Flag > env > config file > remembered. */
export async function requestedRuntime(
  options: RequestOptions,
): Promise<{name: string; reason: RequestReason} | undefined> {
  const env = options.env ?? process.env
  const paths = stigmerPaths(env)
  const explicit =
    explicitRuntimeChoice(options.flag, env, {}, paths.configFile) ??
    explicitRuntimeChoice(
      undefined,
      {},
      options.stigmerConfig ?? (await loadConfig(paths.configFile)),
      paths.configFile,
    )
  if (explicit) return explicit
  const remembered = options.remembered?.(env)
  if (remembered) return {name: remembered.runtime, reason: {kind: 'remembered', stateFile: remembered.stateFile}}

  return undefined
}

export interface ChooseOptions extends RequestOptions {
  /** oclif's config, to ask plugins for their runtimes. */
  readonly config?: Config | undefined
  /** The providers, when the caller already gathered them (else built-in plus plugins'). */
  readonly providers?: readonly RuntimeProvider[] | undefined
  /** The machine to look at (tests describe one); the real one by default. */
  readonly machine?: MachineView | undefined
  readonly exhaustive?: boolean | undefined
  readonly allowSpawn?: boolean | undefined
  readonly timeoutMs?: number | undefined
  readonly probe?: DetectOptions['probe']
}

/** What `chooseEngine` decided: the engine (when one answers), why, and everything that was probed. */
export interface EngineDecision {
  readonly ctx: RuntimeContext
  readonly providers: readonly RuntimeProvider[]
  readonly requested: undefined | {name: string; reason: RequestReason}
  readonly detection: DetectionResult<RuntimeProvider>
  /** The chosen engine's provider; undefined when none answers. */
  readonly provider: RuntimeProvider | undefined
  /** Why this engine (or, when none answers, how it was being chosen). */
  readonly reason: ChoiceReason
}

/**
 * The one engine decision. An explicit choice (--runtime, STIGMER_CONTAINER_RUNTIME, the
 * config file), then for the server commands the engine of the last `server start`, then
 * detection: an endpoint the user named, else Docker, Podman, then plugin runtimes.
 * Throws a usage error for an unknown name; a missing engine is not an error here
 * (`engineFailure` says why), so `doctor` and `version` can report it.
 */
export async function chooseEngine(options: ChooseOptions = {}): Promise<EngineDecision> {
  const env = options.env ?? process.env
  const paths = stigmerPaths(env)
  const ctx: RuntimeContext = {
    machine: options.machine ?? currentMachine(env),
    runDir: paths.runDir,
    stateDir: paths.stateDir,
  }
  const providers = options.providers ?? (await runtimeProviders(options.config))
  const requested = await requestedRuntime({...options, env})
  if (
    requested?.reason.kind === 'remembered' &&
    !providers.some((p) => p.name === requested.name.trim().toLowerCase())
  ) {
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
    ...(requested ? {requested: {name: requested.name, source: choiceWords(requested.reason)}} : {}),
    ...(options.exhaustive ? {exhaustive: true} : {}),
    ...(options.allowSpawn === undefined ? {} : {allowSpawn: options.allowSpawn}),
    ...(options.timeoutMs ? {timeoutMs: options.timeoutMs} : {}),
    ...(options.probe ? {probe: options.probe} : {}),
  })
  const {provider} = detection
  const plugin = provider ? pluginOf(provider) : undefined
  const reason: ChoiceReason = requested
    ? requested.reason
    : detection.named
      ? {kind: 'endpoint', source: detection.named.source}
      : provider && !BUILTIN_PROVIDERS.includes(provider)
        ? {kind: 'plugin', plugin}
        : {kind: 'detected'}
  return {ctx, detection, provider, providers, reason, requested}
}

/** Why no engine could be used, as the error every command stops with (exit 10, 11 or 12). */
export function engineFailure(decision: EngineDecision): StigmerError {
  const {detection, providers, requested} = decision
  const failure = detectionFailure(detection, providers, decision.ctx)
  if (requested?.reason.kind === 'remembered') {
    return new StigmerError(
      `The agent-runner was started with ${requested.name}, which is not answering now: ${failure.message}`,
      {
        code: failure.code,
        details: failure.details,
        exit: failure.exit === ExitCode.NO_RUNTIME ? ExitCode.RUNTIME_UNREACHABLE : failure.exit,
        suggestions: [...failure.suggestions, 'Or pass --runtime to use another engine.'],
      },
    )
  }

  return failure
}

export async function selectRuntime(options: SelectOptions = {}): Promise<ResolvedRuntime> {
  const decision = await chooseEngine(options)
  const {ctx, detection, provider, reason} = decision
  if (!detection.chosen || !provider) throw engineFailure(decision)
  const runtime = await provider.create(detection.chosen.candidate.endpoint, ctx)
  return {ctx, detection, provider, reason, runtime}
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
  const key = `${options.flag ?? ''}|${options.remembered ? 'r' : ''}`
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

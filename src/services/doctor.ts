/**
 * `stigmer doctor`: looks at everything `server start` depends on and says, per
 * item, ok / warn / fail. It never starts an engine or a service (detection
 * runs with allowSpawn: false) and changes nothing but one temporary file in
 * the workspace, which it removes.
 *
 * The checks are pure functions (doctor-checks.ts) of facts gathered here, in
 * parallel, so a healthy machine answers in well under two seconds.
 */

import {existsSync} from 'node:fs'
import {homedir} from 'node:os'

import type {ContainerRuntime, EngineInfo, ImageInfo, RuntimeContext, RuntimeProvider} from '../adapters/types.js'

import {capabilitiesOf} from '../adapters/capabilities.js'
import {type CandidateReport, detect, detectionFailure} from '../detection/detect.js'
import {parseEndpointUrl} from '../detection/endpoint.js'
import {currentMachine} from '../detection/machine.js'
import {loadConfig, type StigmerConfig} from '../lib/config.js'
import {StigmerError} from '../lib/errors.js'
import {resolveWorkspace, stigmerPaths} from '../lib/paths.js'
import {buildContainerEnv} from './container-env.js'
import {
  type CheckResult,
  choiceReason,
  configCheck,
  diskCheck,
  type DoctorCheck,
  type EngineChoice,
  engineCheck,
  endpointVariableCheck,
  engineInfoCheck,
  exitCodeOf,
  imageCheck,
  networkCheck,
  parseHostPort,
  rememberedCheck,
  socketCheck,
  temporalCheck,
  verdictOf,
  workspaceCheck,
} from './doctor-checks.js'
import {
  currentUser,
  diskFacts,
  probeWorkspace,
  readNameTables,
  socketFacts,
  type TcpProbe,
  TimeoutError,
  withTimeout,
} from './doctor-probes.js'
import {resolveImage} from './image-resolution.js'
import {chooseEngine, choiceWords, type EngineDecision, explicitRuntimeChoice, runtimeProviders} from './runtime.js'
import {readServerState} from './server-state.js'
import {temporalAnswers} from './temporal.js'

export type {CheckStatus, DoctorCheck} from './doctor-checks.js'

export interface DoctorEngine {
  /** The provider whose strategy found this candidate. */
  readonly runtime: string
  /** The engine that actually answers there (a Podman socket at /var/run/docker.sock is podman). */
  readonly identifiedAs: string | undefined
  readonly strategy: string
  readonly endpoint: string
  /** Where the endpoint came from: "DOCKER_HOST", "default socket", "rootless Podman socket", ... */
  readonly source: string
  readonly explicit: boolean
  readonly state: string
  /** Why it is or is not usable, in words. */
  readonly detail: string
  readonly usable: boolean
  readonly chosen: boolean
  readonly ms: number
  /** The API version the engine announced when pinged. */
  readonly apiVersion?: string
  /** For the chosen engine: what it says about itself (other engines are only pinged, to stay fast). */
  readonly version?: {product: string; version: string; apiVersion: string}
  /** For the `podman system service` candidate: what stigmer would start there. */
  readonly wouldStart?: string
}

export interface DoctorChosen {
  readonly runtime: string
  readonly displayName: string
  readonly endpoint: string
  readonly source: string
  /** "--runtime", "STIGMER_CONTAINER_RUNTIME", "runtime in <config file>", or "auto". */
  readonly choiceSource: string
  readonly reason: string
  /** True when nothing answers yet and stigmer would start `podman system service` for it. */
  readonly wouldStart: boolean
  readonly engine?: {
    name: string
    version: string
    apiVersion: string
    os: string
    arch: string
    rootless: boolean
    inVm: boolean
    dataRoot?: string
  }
  readonly network?: {mode: string; reason: string}
}

export interface DoctorReport {
  readonly checks: DoctorCheck[]
  readonly engines: DoctorEngine[]
  readonly chosen: DoctorChosen | null
  readonly verdict: 'fail' | 'ok' | 'warn'
  /** The exit code doctor returns (see the command's description). */
  readonly exitCode: number
  /** When no engine is usable: the same error (code, message, suggestions) other commands would stop with. */
  readonly failure?: {code: string; exit: number; message: string; suggestions: readonly string[]}
  /** Engine CLIs found on PATH. */
  readonly installed: Record<string, string | null>
  /** Milliseconds the whole run took. */
  readonly ms: number
}

export interface DoctorOptions {
  readonly cliVersion: string
  /** --runtime */
  readonly flag?: string | undefined
  readonly env?: NodeJS.ProcessEnv
  readonly oclifConfig?: Parameters<typeof runtimeProviders>[0]
  readonly platform?: NodeJS.Platform
  readonly home?: string
  readonly probeTimeoutMs?: number
  readonly engineTimeoutMs?: number
  readonly temporalTimeoutMs?: number
}

/** Internal: the report plus whether some engine request was left hanging (the command then exits without waiting for it). */
export interface DoctorRun {
  readonly report: DoctorReport
  readonly leftHanging: boolean
}

/** The workspace folder server start would use: `workspace` from the config (~ expanded, relative to home), else the default. */
export function workspaceFor(
  config: StigmerConfig,
  defaultWorkspace: string,
  home: string,
  configFile: string,
): {path: string; source: string} {
  return resolveWorkspace({configFile, configured: config.workspace, defaultWorkspace, home})
}

/** A probe's answer with how long it took. */
async function timed(ask: () => Promise<{detail: string; ok: boolean}>): Promise<TcpProbe> {
  const started = Date.now()
  const answer = await ask()
  return {...answer, ms: Date.now() - started}
}

/** TEMPORAL_SERVICE_ADDRESS as `server start` would pass it (one precedence rule: buildContainerEnv's), with its source in words. */
export function temporalAddressFor(
  env: NodeJS.ProcessEnv,
  config: StigmerConfig,
  configFile: string,
): {address: string; source: string} {
  const name = 'TEMPORAL_SERVICE_ADDRESS'
  const built = buildContainerEnv({configEnv: config.env ?? {}, extra: {}, flags: {}, hostEnv: env})
  const source = {'config file': `env.${name} in ${configFile}`, 'host environment': name}[built.sources[name]!]
  return {address: built.env[name]!, source: source ?? built.sources[name]!}
}

function isUsageError(error: unknown): error is StigmerError {
  return error instanceof StigmerError && error.code === 'USAGE'
}

/** The environment without endpoint variables that do not parse, so the other candidates can still be listed. */
function withoutBrokenEndpoints(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {...env, DOCKER_CONTEXT: 'default'}
  for (const name of ['DOCKER_HOST', 'CONTAINER_HOST']) {
    const value = out[name]
    if (value === undefined || value.trim() === '') continue
    try {
      parseEndpointUrl(value, name)
    } catch {
      delete out[name]
    }
  }

  return out
}

/** The engine that answers at a candidate (a Podman socket at /var/run/docker.sock is podman). */
function runtimeOf(report: CandidateReport): string {
  return report.identifiedAs ?? report.provider
}

function socketPathOf(report: CandidateReport): string | undefined {
  const {url} = report.candidate.endpoint
  return url.startsWith('unix://') ? url.slice('unix://'.length) : undefined
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorRun> {
  const started = Date.now()
  const env = options.env ?? process.env
  const home = options.home ?? homedir()
  const paths = stigmerPaths(env, home)
  const machine = currentMachine(env)
  const platform = options.platform ?? machine.platform
  const ctx: RuntimeContext = {machine, runDir: paths.runDir}
  const probeTimeoutMs = options.probeTimeoutMs ?? 1500
  const engineTimeoutMs = options.engineTimeoutMs ?? 2000
  let leftHanging = false

  // The config file first: everything else reads it. A broken one is reported, and defaults are used.
  let config: StigmerConfig = {}
  let configError: StigmerError | undefined
  try {
    config = await loadConfig(paths.configFile)
  } catch (error) {
    if (!(error instanceof StigmerError)) throw error
    configError = error
  }

  const providers = await runtimeProviders(options.oclifConfig)
  const requested = explicitRuntimeChoice(options.flag, env, config, paths.configFile)
  const temporal = temporalAddressFor(env, config, paths.configFile)
  const workspace = workspaceFor(config, paths.defaultWorkspace, home, paths.configFile)
  const temporalTarget = parseHostPort(temporal.address)

  // Independent of the engine: start them now, collect them at the end.
  // A real gRPC call (GetSystemInfo), not a TCP connect: only Temporal answers it.
  const temporalProbe = temporalTarget
    ? timed(() => temporalAnswers(temporal.address, options.temporalTimeoutMs ?? 2000))
    : Promise.resolve()
  const workspaceFacts = Promise.resolve().then(() => probeWorkspace(workspace.path))

  // The choice as every other command makes it (chooseEngine), and every candidate of every
  // runtime (the listing: the same detection when nothing is asked for by name).
  const detectAll = async (c: RuntimeContext) =>
    detect({allowSpawn: false, ctx: c, exhaustive: true, providers, timeoutMs: probeTimeoutMs})
  let listingUsage: StigmerError | undefined
  let choiceUsage: StigmerError | undefined
  const choosing = chooseEngine({
    allowSpawn: false,
    env,
    exhaustive: requested === undefined,
    flag: options.flag,
    machine,
    providers,
    stigmerConfig: config,
    timeoutMs: probeTimeoutMs,
  })
  const listingPromise = (requested ? detectAll(ctx) : choosing.then((d) => d.detection)).catch(
    async (error: unknown) => {
      if (!isUsageError(error)) throw error
      listingUsage = error
      return detectAll({machine: currentMachine(withoutBrokenEndpoints(env)), runDir: paths.runDir})
    },
  )
  const decisionPromise: Promise<EngineDecision | undefined> = choosing.catch(
    (error: unknown): EngineDecision | undefined => {
      if (!isUsageError(error)) throw error
      choiceUsage = error
      return undefined // the choice failed; usageFailure says why
    },
  )
  const [listing, decision] = await Promise.all([listingPromise, decisionPromise])
  // A bad --runtime, or a malformed DOCKER_HOST the choice depends on, stops other commands with a usage error.
  const usageFailure: StigmerError | undefined = requested ? choiceUsage : listingUsage
  const choice = usageFailure ? undefined : decision?.detection

  const displayNameOf = (name: string) => providers.find((p) => p.name === name)?.displayName ?? name

  let engineChoice: EngineChoice
  if (usageFailure) {
    engineChoice = {failure: usageFailure, kind: 'none'}
  } else if (choice?.chosen && choice.provider) {
    const chosenRuntime = runtimeOf(choice.chosen)
    const alsoUsable = [
      ...new Set(
        listing.reports
          .filter((r) => r.usable && runtimeOf(r) !== chosenRuntime)
          .map((r) => displayNameOf(runtimeOf(r))),
      ),
    ]
    engineChoice = {
      alsoUsable,
      reason: decision!.reason,
      displayName: displayNameOf(chosenRuntime),
      kind: 'chosen',
      report: choice.chosen,
    }
  } else {
    const spawnable = choice?.reports.find(
      (r) =>
        r.eligible &&
        r.candidate.spawnable &&
        r.probe.state === 'unprobed' &&
        providers.find((p) => p.name === r.provider)?.spawn,
    )
    engineChoice = spawnable
      ? {
          kind: 'would-start',
          podmanPath: machine.which(providers.find((p) => p.name === spawnable.provider)!.cli),
          reason: decision!.reason,
          report: spawnable,
        }
      : {failure: detectionFailure(choice!, providers, ctx), kind: 'none'}
  }

  // The chosen engine's own view: version, rootless, VM, where images live; and the image.
  const image = resolveImage({cliVersion: options.cliVersion, config, env})
  let runtime: ContainerRuntime | undefined
  let provider: RuntimeProvider | undefined
  let info: EngineInfo | undefined
  let infoError: Error | undefined
  let present: ImageInfo | null | undefined
  let imageError: Error | undefined
  if (engineChoice.kind === 'chosen' && choice?.provider) {
    provider = choice.provider
    try {
      runtime = await withTimeout(
        provider.create(engineChoice.report.candidate.endpoint, ctx),
        engineTimeoutMs,
        `${provider.displayName} client`,
      )
      const rt = runtime
      await Promise.all([
        withTimeout(rt.info(), engineTimeoutMs, provider.displayName).then(
          (i) => {
            info = i
          },
          (error: Error) => {
            infoError = error
            if (error instanceof TimeoutError) leftHanging = true
          },
        ),
        withTimeout(rt.inspectImage(image.ref), engineTimeoutMs, provider.displayName).then(
          (i) => {
            present = i ?? null
          },
          (error: Error) => {
            imageError = error
            if (error instanceof TimeoutError) leftHanging = true
          },
        ),
      ])
    } catch (error) {
      infoError = error as Error
      if (error instanceof TimeoutError) leftHanging = true
    }
  }

  // Where images live: the engine's data root when it is on this machine, else the home folder.
  const localRoot =
    info?.dataRoot &&
    !info.inVm &&
    engineChoice.kind === 'chosen' &&
    engineChoice.report.candidate.endpoint.url.startsWith('unix://')
      ? info.dataRoot
      : undefined
  const diskWhere = localRoot
    ? `where ${info!.name} keeps images`
    : info
      ? `the home folder (${info.name} keeps images in its VM or on another machine)`
      : 'the home folder (no engine to ask where images live)'
  const diskPromise = diskFacts(localRoot ?? home).then(
    (facts) => ({facts}),
    (error: Error) => ({error}),
  )

  // Sockets that exist, once each.
  const names = readNameTables()
  const user = currentUser()
  const seenSockets = new Set<string>()
  const socketChecks: CheckResult[] = []
  const engineAvailable = engineChoice.kind !== 'none'
  for (const r of listing.reports) {
    const path = socketPathOf(r)
    if (!path || seenSockets.has(path)) continue
    seenSockets.add(path)
    const facts = socketFacts(path, names)
    if (!facts) continue
    const p = providers.find((x) => x.name === runtimeOf(r)) ?? providers.find((x) => x.name === r.provider)
    socketChecks.push(
      socketCheck({
        engineUsable: engineAvailable,
        facts,
        permissionHints: p?.permissionHints(platform, path) ?? [],
        runtime: displayNameOf(runtimeOf(r)),
        user,
      }),
    )
  }

  const chosenRuntimeName =
    engineChoice.kind === 'none'
      ? undefined
      : engineChoice.kind === 'chosen'
        ? runtimeOf(engineChoice.report)
        : engineChoice.report.provider
  // What the chosen engine declares (host alias, ...): its adapter's when one was built, else its provider's.
  const chosenProvider = chosenRuntimeName ? providers.find((p) => p.name === chosenRuntimeName) : undefined
  const chosenCapabilities = runtime
    ? capabilitiesOf(runtime)
    : chosenProvider
      ? capabilitiesOf(chosenProvider)
      : undefined
  const {
    mode: networkMode,
    reason: networkReason,
    ...network
  } = networkCheck({
    platform,
    temporalAddress: temporal.address,
    ...(chosenRuntimeName ? {runtime: chosenRuntimeName} : {}),
    ...(info ? {info} : {}),
    ...(chosenCapabilities ? {capabilities: chosenCapabilities} : {}),
    ...(config.network ? {requested: config.network, requestedSource: `network in ${paths.configFile}`} : {}),
  })

  const notChecked =
    engineChoice.kind === 'would-start'
      ? 'the Podman service is not running (doctor does not start it)'
      : engineChoice.kind === 'none'
        ? 'no engine was chosen (see Container engine)'
        : undefined
  const engineName = chosenRuntimeName ? displayNameOf(chosenRuntimeName) : 'the engine'
  const [tprobe, wfacts, disk] = await Promise.all([temporalProbe, workspaceFacts, diskPromise])
  const state = readServerState(paths.serverStateFile)
  const usableRuntimes = [...new Set(listing.reports.filter((r) => r.usable).map((r) => runtimeOf(r)))]

  const checks: CheckResult[] = [
    configCheck({
      exists: existsSync(paths.configFile),
      file: paths.configFile,
      ...(configError ? {error: configError} : {config}),
    }),
    engineCheck(engineChoice),
    ...(listingUsage && !usageFailure ? [endpointVariableCheck(listingUsage)] : []),
    engineInfoCheck({
      displayName: engineName,
      ...(info ? {info} : {}),
      ...(infoError ? {error: infoError} : {}),
      ...(notChecked ? {skipped: notChecked} : {}),
    }),
    ...socketChecks,
    network,
    diskCheck({where: diskWhere, ...disk}),
    imageCheck({
      displayName: engineName,
      image,
      ...(provider ? {runtime: provider.name} : {}),
      ...(present === undefined ? {} : {present}),
      ...(imageError ? {error: imageError} : {}),
      ...(notChecked
        ? {skipped: notChecked}
        : infoError && present === undefined && !imageError
          ? {skipped: 'the engine did not answer'}
          : {}),
    }),
    workspaceCheck(wfacts, {source: workspace.source, uid: machine.uid}),
    temporalCheck({address: temporal.address, source: temporal.source, ...(tprobe ? {probe: tprobe} : {})}),
    ...(state ? [rememberedCheck(state, usableRuntimes)] : []),
  ]

  if (runtime) {
    // A hung engine request would keep the process alive; the command exits without waiting for it.
    await withTimeout(runtime.close(), 500, 'close').catch(() => {
      leftHanging = true
    })
  }

  const chosenReport = engineChoice.kind === 'none' ? undefined : engineChoice.report
  // The CLI of each provider that can start a service itself (Podman's), for the would-start note.
  const cliPathOf = (name: string) => {
    const p = providers.find((x) => x.name === name)
    return p?.spawn ? machine.which(p.cli) : undefined
  }

  const engines: DoctorEngine[] = listing.reports.map((r) => {
    const isChosen =
      chosenReport !== undefined &&
      r.candidate.endpoint.url === chosenReport.candidate.endpoint.url &&
      r.provider === chosenReport.provider
    return {
      chosen: isChosen,
      detail: r.probe.detail,
      endpoint: r.candidate.endpoint.url,
      explicit: r.candidate.explicit,
      identifiedAs: r.usable ? runtimeOf(r) : undefined,
      ms: r.probe.ms,
      runtime: r.provider,
      source: r.candidate.endpoint.source,
      state: r.probe.state,
      strategy: r.strategy,
      usable: r.usable,
      ...(r.probe.apiVersion ? {apiVersion: r.probe.apiVersion} : {}),
      ...(isChosen && info ? {version: {apiVersion: info.apiVersion, product: info.name, version: info.version}} : {}),
      ...(r.candidate.spawnable && r.eligible && !r.usable
        ? {
            wouldStart: `stigmer would start \`podman system service\` on this socket${cliPathOf(r.provider) ? ` (with ${cliPathOf(r.provider)})` : ''} when no other ${displayNameOf(r.provider)} socket answers`,
          }
        : {}),
    }
  })

  let chosen: DoctorChosen | null = null
  if (engineChoice.kind !== 'none') {
    const r = engineChoice.report
    const name = runtimeOf(r)
    chosen = {
      choiceSource: choiceWords(engineChoice.reason),
      displayName: displayNameOf(name),
      endpoint: r.candidate.endpoint.url,
      reason:
        engineChoice.kind === 'chosen'
          ? choiceReason(engineChoice.reason, engineChoice.displayName, engineChoice.alsoUsable)
          : 'nothing answers yet; stigmer would start `podman system service` for it',
      runtime: name,
      source: r.candidate.endpoint.source,
      wouldStart: engineChoice.kind === 'would-start',
      ...(info
        ? {
            engine: {
              apiVersion: info.apiVersion,
              arch: info.arch,
              inVm: info.inVm,
              name: info.name,
              os: info.os,
              rootless: info.rootless,
              version: info.version,
              ...(info.dataRoot ? {dataRoot: info.dataRoot} : {}),
            },
          }
        : {}),
      network: {mode: networkMode, reason: networkReason},
    }
  }

  const publicChecks: DoctorCheck[] = checks.map(({exit: _exit, ...c}) => c)
  const failure = engineChoice.kind === 'none' ? engineChoice.failure : undefined
  const report: DoctorReport = {
    checks: publicChecks,
    chosen,
    engines,
    exitCode: exitCodeOf(checks),
    installed: Object.fromEntries(providers.map((p) => [p.cli, machine.which(p.cli) ?? null])),
    ms: Date.now() - started,
    verdict: verdictOf(checks),
    ...(failure
      ? {failure: {code: failure.code, exit: failure.exit, message: failure.message, suggestions: failure.suggestions}}
      : {}),
  }
  return {leftHanging, report}
}

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

import type {MachineView} from '../engine/detection/strategies.js'
import type {ContainerRuntime, EngineInfo, ImageInfo, RuntimeContext, RuntimeProvider} from '../engine/types.js'

import {capabilitiesOf} from '../engine/capabilities.js'
import {
  chooseEngine,
  choiceWords,
  type EngineDecision,
  explicitRuntimeChoice,
  runtimeProviders,
} from '../engine/choose.js'
import {type CandidateReport, detect, type DetectionResult, detectionFailure} from '../engine/detection/detect.js'
import {parseEndpointUrl} from '../engine/detection/endpoint.js'
import {currentMachine} from '../engine/detection/machine.js'
import {resolveImage, type ResolvedImage} from '../image/resolution.js'
import {loadConfig, type StigmerConfig} from '../lib/config.js'
import {StigmerError} from '../lib/errors.js'
import {resolveWorkspace, type StigmerPaths, stigmerPaths} from '../lib/paths.js'
import {parseHostPort} from '../lib/tcp.js'
import {buildContainerEnv} from '../server/env.js'
import {readServerState} from '../server/state.js'
import {temporalAnswers} from '../server/temporal.js'
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
  rememberedCheck,
  socketCheck,
  temporalCheck,
  verdictOf,
  workspaceCheck,
} from './checks.js'
import {
  currentUser,
  diskFacts,
  probeWorkspace,
  readNameTables,
  socketFacts,
  type TcpProbe,
  TimeoutError,
  withTimeout,
} from './facts.js'

export type {CheckStatus, DoctorCheck} from './checks.js'

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

/** What every step of a doctor run reads: where things are, this machine, the runtimes known. */
interface DoctorContext {
  readonly options: DoctorOptions
  readonly env: NodeJS.ProcessEnv
  readonly home: string
  readonly paths: StigmerPaths
  readonly machine: MachineView
  readonly platform: NodeJS.Platform
  readonly ctx: RuntimeContext
  readonly providers: readonly RuntimeProvider[]
  readonly probeTimeoutMs: number
  readonly engineTimeoutMs: number
  /** "docker" -> "Docker": the provider's display name, else the name itself. */
  readonly displayNameOf: (name: string) => string
}

/** The config file as loaded, or the error that stops loading it (the run then goes on with defaults). */
interface ConfigState {
  readonly config: StigmerConfig
  readonly error?: StigmerError
}

/** Engine detection: every candidate (the listing) and the choice as every other command makes it. */
interface EngineFindings {
  readonly listing: DetectionResult<RuntimeProvider>
  readonly decision: EngineDecision | undefined
  readonly choice: DetectionResult<RuntimeProvider> | undefined
  /** A malformed endpoint variable met while listing. */
  readonly listingUsage: StigmerError | undefined
  /** The usage error the choice stops with (bad --runtime, a malformed DOCKER_HOST it depends on). */
  readonly usageFailure: StigmerError | undefined
  readonly engineChoice: EngineChoice
}

/** What the chosen engine said about itself and about the image. */
interface EngineAnswers {
  runtime?: ContainerRuntime
  provider?: RuntimeProvider
  info?: EngineInfo
  infoError?: Error
  /** The image's inspect: null when absent, undefined when not asked. */
  present?: ImageInfo | null
  imageError?: Error
  leftHanging: boolean
}

/** The config file first: everything else reads it. A broken one is reported, and defaults are used. */
async function readConfig(configFile: string): Promise<ConfigState> {
  try {
    return {config: await loadConfig(configFile)}
  } catch (error) {
    if (!(error instanceof StigmerError)) throw error
    return {config: {}, error}
  }
}

/** The choice as every other command makes it (chooseEngine), and every candidate of every runtime (the listing). */
async function findEngines(dc: DoctorContext, config: StigmerConfig): Promise<EngineFindings> {
  const {env, machine, options, paths, providers} = dc
  const requested = explicitRuntimeChoice(options.flag, env, config, paths.configFile)
  const detectAll = async (c: RuntimeContext) =>
    detect({allowSpawn: false, ctx: c, exhaustive: true, providers, timeoutMs: dc.probeTimeoutMs})
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
    timeoutMs: dc.probeTimeoutMs,
  })
  // The listing is the choice's own detection when nothing is asked for by name.
  const listingPromise = (requested ? detectAll(dc.ctx) : choosing.then((d) => d.detection)).catch(
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
  const engineChoice = engineChoiceOf(dc, {choice, decision, listing, usageFailure})
  return {choice, decision, engineChoice, listing, listingUsage, usageFailure}
}

/** The engine doctor reports as chosen: one that answers, Podman's service stigmer would start, or none and why. */
function engineChoiceOf(
  dc: DoctorContext,
  found: Pick<EngineFindings, 'choice' | 'decision' | 'listing' | 'usageFailure'>,
): EngineChoice {
  const {choice, decision, listing, usageFailure} = found
  const {displayNameOf, providers} = dc
  if (usageFailure) return {failure: usageFailure, kind: 'none'}
  if (choice?.chosen && choice.provider) {
    const chosenRuntime = runtimeOf(choice.chosen)
    const alsoUsable = [
      ...new Set(
        listing.reports
          .filter((r) => r.usable && runtimeOf(r) !== chosenRuntime)
          .map((r) => displayNameOf(runtimeOf(r))),
      ),
    ]
    return {
      alsoUsable,
      reason: decision!.reason,
      displayName: displayNameOf(chosenRuntime),
      kind: 'chosen',
      report: choice.chosen,
    }
  }

  const spawnable = choice?.reports.find(
    (r) =>
      r.eligible &&
      r.candidate.spawnable &&
      r.probe.state === 'unprobed' &&
      providers.find((p) => p.name === r.provider)?.spawn,
  )
  return spawnable
    ? {
        kind: 'would-start',
        podmanPath: dc.machine.which(providers.find((p) => p.name === spawnable.provider)!.cli),
        reason: decision!.reason,
        report: spawnable,
      }
    : {failure: detectionFailure(choice!, providers, dc.ctx), kind: 'none'}
}

/** The chosen engine's own view (version, rootless, VM, where images live) and the image, asked in parallel. */
async function askChosenEngine(dc: DoctorContext, found: EngineFindings, imageRef: string): Promise<EngineAnswers> {
  const answers: EngineAnswers = {leftHanging: false}
  const {choice, engineChoice} = found
  if (engineChoice.kind !== 'chosen' || !choice?.provider) return answers
  const provider = choice.provider
  const timeoutMs = dc.engineTimeoutMs
  answers.provider = provider
  const failed = (error: Error, key: 'imageError' | 'infoError') => {
    answers[key] = error
    if (error instanceof TimeoutError) answers.leftHanging = true
  }

  try {
    const rt = await withTimeout(
      provider.create(engineChoice.report.candidate.endpoint, dc.ctx),
      timeoutMs,
      `${provider.displayName} client`,
    )
    answers.runtime = rt
    await Promise.all([
      withTimeout(rt.info(), timeoutMs, provider.displayName).then(
        (i) => {
          answers.info = i
        },
        (error: Error) => failed(error, 'infoError'),
      ),
      withTimeout(rt.inspectImage(imageRef), timeoutMs, provider.displayName).then(
        (i) => {
          answers.present = i ?? null
        },
        (error: Error) => failed(error, 'imageError'),
      ),
    ])
  } catch (error) {
    failed(error as Error, 'infoError')
  }

  return answers
}

/** Where images live: the engine's data root when it is on this machine, else the home folder; and that place in words. */
function diskTarget(
  info: EngineInfo | undefined,
  engineChoice: EngineChoice,
  home: string,
): {path: string; where: string} {
  const localRoot =
    info?.dataRoot &&
    !info.inVm &&
    engineChoice.kind === 'chosen' &&
    engineChoice.report.candidate.endpoint.url.startsWith('unix://')
      ? info.dataRoot
      : undefined
  const where = localRoot
    ? `where ${info!.name} keeps images`
    : info
      ? `the home folder (${info.name} keeps images in its VM or on another machine)`
      : 'the home folder (no engine to ask where images live)'
  return {path: localRoot ?? home, where}
}

/** One check per engine socket that exists, once each: its owner, mode, and whether this user can open it. */
function socketChecksOf(
  dc: DoctorContext,
  reports: readonly CandidateReport[],
  engineAvailable: boolean,
): CheckResult[] {
  const {displayNameOf, providers} = dc
  const names = readNameTables()
  const user = currentUser()
  const seenSockets = new Set<string>()
  const socketChecks: CheckResult[] = []
  for (const r of reports) {
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
        permissionHints: p?.permissionHints(dc.platform, path) ?? [],
        runtime: displayNameOf(runtimeOf(r)),
        user,
      }),
    )
  }

  return socketChecks
}

/** The runtime of the engine doctor reports as chosen (or would start), if any. */
function chosenRuntimeNameOf(engineChoice: EngineChoice): string | undefined {
  if (engineChoice.kind === 'none') return undefined
  return engineChoice.kind === 'chosen' ? runtimeOf(engineChoice.report) : engineChoice.report.provider
}

/** The networking server start would use with the chosen engine, from what that engine declares. */
function networkFor(
  dc: DoctorContext,
  input: {
    chosenRuntimeName: string | undefined
    config: StigmerConfig
    runtime?: ContainerRuntime
    info?: EngineInfo
    temporalAddress: string
  },
): ReturnType<typeof networkCheck> {
  const {chosenRuntimeName, config, info, runtime} = input
  // What the chosen engine declares (host alias, ...): its adapter's when one was built, else its provider's.
  const chosenProvider = chosenRuntimeName ? dc.providers.find((p) => p.name === chosenRuntimeName) : undefined
  // No engine found: the first one detection tries (Docker) is the guess.
  const chosenCapabilities = capabilitiesOf(runtime ?? chosenProvider ?? dc.providers[0]!)
  return networkCheck({
    platform: dc.platform,
    temporalAddress: input.temporalAddress,
    ...(chosenRuntimeName ? {runtime: chosenRuntimeName} : {}),
    ...(info ? {info} : {}),
    capabilities: chosenCapabilities,
    ...(config.network ? {requested: config.network, requestedSource: `network in ${dc.paths.configFile}`} : {}),
  })
}

/** Why the engine's own checks (version, image) were not run, if they were not. */
function notCheckedReason(engineChoice: EngineChoice): string | undefined {
  if (engineChoice.kind === 'would-start') return 'the Podman service is not running (doctor does not start it)'
  if (engineChoice.kind === 'none') return 'no engine was chosen (see Container engine)'
  return undefined
}

/** The config file check: absent, loaded, or why it does not load. */
function configCheckFor(configFile: string, configState: ConfigState): CheckResult {
  return configCheck({
    exists: existsSync(configFile),
    file: configFile,
    ...(configState.error ? {error: configState.error} : {config: configState.config}),
  })
}

/** The engine's checks: which one and why, a malformed endpoint variable the choice did not need, its version. */
function engineChecks(
  found: EngineFindings,
  engineName: string,
  answers: EngineAnswers,
  notChecked: string | undefined,
): CheckResult[] {
  const {listingUsage, usageFailure} = found
  const {info, infoError} = answers
  return [
    engineCheck(found.engineChoice),
    ...(listingUsage && !usageFailure ? [endpointVariableCheck(listingUsage)] : []),
    engineInfoCheck({
      displayName: engineName,
      ...(info ? {info} : {}),
      ...(infoError ? {error: infoError} : {}),
      ...(notChecked ? {skipped: notChecked} : {}),
    }),
  ]
}

/** The agent-runner image check: present, absent, not asked (and why), or the engine's error. */
function imageCheckFor(
  image: ResolvedImage,
  engineName: string,
  answers: EngineAnswers,
  notChecked: string | undefined,
): CheckResult {
  const {imageError, infoError, present, provider} = answers
  return imageCheck({
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
  })
}

/** Every engine candidate as a report row: where, what it said, whether it is the chosen one. */
function engineRows(dc: DoctorContext, found: EngineFindings, info: EngineInfo | undefined): DoctorEngine[] {
  const {displayNameOf, machine, providers} = dc
  const chosenReport = found.engineChoice.kind === 'none' ? undefined : found.engineChoice.report
  // The CLI of each provider that can start a service itself (Podman's), for the would-start note.
  const cliPathOf = (name: string) => {
    const p = providers.find((x) => x.name === name)
    return p?.spawn ? machine.which(p.cli) : undefined
  }

  return found.listing.reports.map((r) => {
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
}

/** The chosen engine in the report: where, why, what it says about itself, and the networking it gets. */
function chosenSummary(
  dc: DoctorContext,
  engineChoice: EngineChoice,
  info: EngineInfo | undefined,
  network: {mode: string; reason: string},
): DoctorChosen | null {
  if (engineChoice.kind === 'none') return null
  const r = engineChoice.report
  const name = runtimeOf(r)
  return {
    choiceSource: choiceWords(engineChoice.reason),
    displayName: dc.displayNameOf(name),
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
    network,
  }
}

/** The paths, the machine and the runtimes a run works with, from the options (each with its default). */
function doctorContext(options: DoctorOptions, providers: readonly RuntimeProvider[]): DoctorContext {
  const env = options.env ?? process.env
  const home = options.home ?? homedir()
  const paths = stigmerPaths(env, home)
  const machine = currentMachine(env)
  return {
    ctx: {machine, runDir: paths.runDir},
    displayNameOf: (name: string) => providers.find((p) => p.name === name)?.displayName ?? name,
    engineTimeoutMs: options.engineTimeoutMs ?? 2000,
    env,
    home,
    machine,
    options,
    paths,
    platform: options.platform ?? machine.platform,
    probeTimeoutMs: options.probeTimeoutMs ?? 1500,
    providers,
  }
}

/**
 * The whole run, in order: the config; the Temporal and workspace probes (started first, they do
 * not need an engine); engine detection and choice; the chosen engine's own answers; disk, sockets
 * and networking; then every check, the engine rows and the chosen engine, as one report.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorRun> {
  const started = Date.now()
  const configState = await readConfig(stigmerPaths(options.env ?? process.env, options.home ?? homedir()).configFile)
  const dc = doctorContext(options, await runtimeProviders(options.oclifConfig))
  const {config} = configState
  const {env, home, machine, paths, providers} = dc

  const temporal = temporalAddressFor(env, config, paths.configFile)
  const workspace = workspaceFor(config, paths.defaultWorkspace, home, paths.configFile)
  // Independent of the engine: start them now, collect them at the end.
  // A real gRPC call (GetSystemInfo), not a TCP connect: only Temporal answers it.
  const temporalProbe = parseHostPort(temporal.address, 7233)
    ? timed(() => temporalAnswers(temporal.address, options.temporalTimeoutMs ?? 2000))
    : Promise.resolve()
  const workspaceFacts = Promise.resolve().then(() => probeWorkspace(workspace.path))

  const found = await findEngines(dc, config)
  const {engineChoice, listing} = found
  const image = resolveImage({cliVersion: options.cliVersion, config, env})
  const answers = await askChosenEngine(dc, found, image.ref)
  const {info, runtime} = answers

  const disk = diskTarget(info, engineChoice, home)
  const diskPromise = diskFacts(disk.path).then(
    (facts) => ({facts}),
    (error: Error) => ({error}),
  )
  const socketChecks = socketChecksOf(dc, listing.reports, engineChoice.kind !== 'none')
  const chosenRuntimeName = chosenRuntimeNameOf(engineChoice)
  const {
    mode: networkMode,
    reason: networkReason,
    ...network
  } = networkFor(dc, {
    chosenRuntimeName,
    config,
    temporalAddress: temporal.address,
    ...(runtime ? {runtime} : {}),
    ...(info ? {info} : {}),
  })

  const notChecked = notCheckedReason(engineChoice)
  const engineName = chosenRuntimeName ? dc.displayNameOf(chosenRuntimeName) : 'the engine'
  const [tprobe, wfacts, diskAnswer] = await Promise.all([temporalProbe, workspaceFacts, diskPromise])
  const state = readServerState(paths.serverStateFile)
  const usableRuntimes = [...new Set(listing.reports.filter((r) => r.usable).map((r) => runtimeOf(r)))]

  const checks: CheckResult[] = [
    configCheckFor(paths.configFile, configState),
    ...engineChecks(found, engineName, answers, notChecked),
    ...socketChecks,
    network,
    diskCheck({where: disk.where, ...diskAnswer}),
    imageCheckFor(image, engineName, answers, notChecked),
    workspaceCheck(wfacts, {source: workspace.source, uid: machine.uid}),
    temporalCheck({address: temporal.address, source: temporal.source, ...(tprobe ? {probe: tprobe} : {})}),
    ...(state ? [rememberedCheck(state, usableRuntimes)] : []),
  ]

  let {leftHanging} = answers
  if (runtime) {
    // A hung engine request would keep the process alive; the command exits without waiting for it.
    await withTimeout(runtime.close(), 500, 'close').catch(() => {
      leftHanging = true
    })
  }

  const publicChecks: DoctorCheck[] = checks.map(({exit: _exit, ...c}) => c)
  const failure = engineChoice.kind === 'none' ? engineChoice.failure : undefined
  const report: DoctorReport = {
    checks: publicChecks,
    chosen: chosenSummary(dc, engineChoice, info, {mode: networkMode, reason: networkReason}),
    engines: engineRows(dc, found, info),
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

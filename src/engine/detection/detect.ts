import type {Endpoint} from './endpoint.js'
import type {Candidate, MachineView, RuntimeContext, Strategy} from './strategies.js'

import {StigmerError, usageError} from '../../lib/errors.js'
import {ExitCode} from '../../lib/exit-codes.js'
import {type ProbeResult, probeEndpoint as realProbe} from './probe.js'

/**
 * What detection needs of a runtime provider: how to find it and what to say when it is
 * missing. `RuntimeProvider` (src/engine/types.ts) is one; detection never builds an adapter.
 */
export interface DetectableProvider {
  readonly name: string
  readonly displayName: string
  /**
   * Its endpoints may be answered by another built-in engine, told apart by the ping's headers
   * (a Podman socket at /var/run/docker.sock is Podman). Docker's and Podman's providers say
   * so; an engine that does not is never renamed by its ping.
   */
  readonly identifiedByPing?: boolean
  strategies(ctx: RuntimeContext): Strategy[]
  spawn?(candidate: Candidate, ctx: RuntimeContext): Promise<void>
  installHints(platform: NodeJS.Platform): string[]
  startHints(platform: NodeJS.Platform, candidate?: Candidate): string[]
  permissionHints(platform: NodeJS.Platform, socket: string): string[]
  installed(machine: MachineView): boolean
}

export interface CandidateReport {
  readonly provider: string
  readonly strategy: string
  readonly candidate: Candidate
  readonly probe: ProbeResult
  /** The runtime that actually answers there (a Podman socket at /var/run/docker.sock is Podman). */
  readonly identifiedAs?: string
  readonly usable: boolean
  /**
   * Whether it could be chosen. False when the user named another endpoint (DOCKER_HOST,
   * CONTAINER_HOST, a docker context): a named endpoint is never swapped for another one.
   * Such candidates are probed only in exhaustive mode (doctor), to show what else answers.
   */
  readonly eligible: boolean
}

export interface DetectionResult<P extends DetectableProvider = DetectableProvider> {
  readonly chosen: CandidateReport | undefined
  readonly provider: P | undefined
  readonly reports: readonly CandidateReport[]
  /** Where the choice came from: "--runtime", "STIGMER_CONTAINER_RUNTIME", "config file", "remembered", "auto". */
  readonly choiceSource: string
  readonly requested: string | undefined
  /** The endpoint the user named (DOCKER_HOST, CONTAINER_HOST, a docker context) when that decides, not an engine name. */
  readonly named?: {readonly url: string; readonly source: string; readonly runtime: string}
}

export interface DetectOptions<P extends DetectableProvider = DetectableProvider> {
  readonly providers: readonly P[]
  readonly ctx: RuntimeContext
  /** An explicit runtime name and where it came from. */
  readonly requested?: {name: string; source: string}
  /** Probe every candidate (doctor) instead of stopping at the first usable one. */
  readonly exhaustive?: boolean
  /** Start a helper service for spawnable candidates (podman system service). Default true. */
  readonly allowSpawn?: boolean
  readonly timeoutMs?: number
  /** How an endpoint is probed; the real GET /_ping unless a test supplies its own. */
  readonly probe?: (endpoint: Endpoint, timeoutMs: number) => Promise<ProbeResult>
}

/** Checks a runtime name against the known ones; unknown names are usage errors. */
export function resolveRequested<P extends DetectableProvider>(
  name: string,
  providers: readonly P[],
  source: string,
): P {
  const wanted = name.trim().toLowerCase()
  const provider = providers.find((p) => p.name === wanted)
  if (!provider) {
    throw usageError(`Unknown container runtime "${name}" (from ${source}).`, [
      `Use one of: ${providers.map((p) => p.name).join(', ')}.`,
    ])
  }

  return provider
}

/** The provider of the chosen endpoint: the engine the probe identified (podman-docker at docker.sock), else its own. */
function chosenProvider<P extends DetectableProvider>(
  chosen: CandidateReport | undefined,
  providers: readonly P[],
): P | undefined {
  if (!chosen) return undefined
  return providers.find((p) => p.name === chosen.identifiedAs) ?? providers.find((p) => p.name === chosen.provider)
}

function candidateReport<P extends DetectableProvider>(
  p: PlanEntry<P>,
  probe: ProbeResult,
  eligible: boolean,
  providers: readonly P[],
): CandidateReport {
  // What answered may be another built-in engine than the strategy's (Podman's docker-compatible socket).
  const identifiedAs =
    probe.engine && p.provider.identifiedByPing && providers.some((x) => x.name === probe.engine)
      ? probe.engine
      : p.provider.name
  const usable = probe.state === 'ok'
  return {
    candidate: p.candidate,
    eligible,
    identifiedAs,
    probe,
    provider: p.provider.name,
    strategy: p.strategy,
    usable,
  }
}

type PlanEntry<P extends DetectableProvider> = {candidate: Candidate; provider: P; strategy: string}

/** Every candidate endpoint, provider by provider, in order; an explicit one ends its provider's list. */
function planCandidates<P extends DetectableProvider>(providers: readonly P[], ctx: RuntimeContext): PlanEntry<P>[] {
  const plan: PlanEntry<P>[] = []
  for (const provider of providers) {
    let explicitSeen = false
    for (const strategy of provider.strategies(ctx)) {
      for (const candidate of strategy.candidates(ctx.machine)) {
        // DOCKER_HOST replaces a docker context and the default sockets, as with the docker CLI;
        // CONTAINER_HOST replaces Podman's sockets and the service stigmer would start.
        if (explicitSeen) continue
        if (candidate.explicit) explicitSeen = true
        if (plan.some((p) => p.candidate.endpoint.url === candidate.endpoint.url && p.provider === provider)) continue
        plan.push({candidate, provider, strategy: strategy.name})
      }
    }
  }

  return plan
}

/**
 * A candidate's final probe result: a spawnable one is probed now and, when it may be chosen,
 * started; one that is not needed or may not be chosen says why.
 */
async function settleProbe<P extends DetectableProvider>(
  p: PlanEntry<P>,
  early: ProbeResult | undefined,
  how: {
    canChoose: boolean
    chosen: boolean
    ctx: RuntimeContext
    mayStart: boolean
    namedSource: string | undefined
    probeEndpoint: NonNullable<DetectOptions['probe']>
    timeoutMs: number
  },
): Promise<ProbeResult> {
  const notConsidered = `not considered: ${how.namedSource} names the engine to use`
  if (early !== undefined) return how.canChoose ? early : {...early, detail: `${early.detail}; ${notConsidered}`}
  // A spawnable candidate: its socket may be up from an earlier run.
  const probe = await how.probeEndpoint(p.candidate.endpoint, how.timeoutMs)
  if (probe.state === 'ok') return probe
  if (how.mayStart && p.provider.spawn) {
    try {
      await p.provider.spawn(p.candidate, how.ctx)
      return await how.probeEndpoint(p.candidate.endpoint, how.timeoutMs)
    } catch (error) {
      return {detail: `could not start it: ${(error as Error).message}`, ms: probe.ms, state: 'error'}
    }
  }

  const why = how.canChoose ? (how.chosen ? 'not needed: another engine answered' : probe.detail) : notConsidered
  return {...probe, detail: why, state: 'unprobed'}
}

/**
 * Finds a usable engine. Order: an explicit choice, else Docker if it answers,
 * else Podman if it answers (else plugin runtimes). Candidates are probed in
 * parallel and chosen in order, so a missing Docker costs one failed stat.
 */
export async function detect<P extends DetectableProvider>(options: DetectOptions<P>): Promise<DetectionResult<P>> {
  const {ctx} = options
  const providers = options.requested
    ? [resolveRequested(options.requested.name, options.providers, options.requested.source)]
    : options.providers
  const plan = planCandidates(providers, ctx)

  // An endpoint the user named is the only one that may be chosen: when it does not answer,
  // the answer is "it does not answer", never another engine (a script that reads "not running"
  // would start a second runner somewhere else). The first named one decides (Docker's before Podman's).
  const named = plan.find((p) => p.candidate.explicit)
  const eligible = (p: (typeof plan)[number]) => named === undefined || p === named
  if (named && !options.exhaustive) plan.splice(0, plan.length, named)
  const choiceSource = options.requested?.source ?? named?.candidate.endpoint.source ?? 'auto'

  const timeoutMs = options.timeoutMs ?? 1500
  // The real probe asks the machine view whether a socket file is there (so detection on
  // a described machine never reaches the real filesystem); an injected probe decides alone.
  const probeEndpoint: NonNullable<DetectOptions['probe']> =
    options.probe ?? (async (ep, ms) => realProbe(ep, ms, (path) => ctx.machine.exists(path)))
  const probes = await Promise.all(
    plan.map(async (p) => (p.candidate.spawnable ? undefined : probeEndpoint(p.candidate.endpoint, timeoutMs))),
  )
  const reports: CandidateReport[] = []
  let chosen: CandidateReport | undefined
  for (const [i, p] of plan.entries()) {
    const canChoose = eligible(p)
    const probe = await settleProbe(p, probes[i], {
      canChoose,
      chosen: chosen !== undefined,
      ctx,
      mayStart: canChoose && !chosen && options.allowSpawn !== false,
      namedSource: named?.candidate.endpoint.source,
      probeEndpoint,
      timeoutMs,
    })
    const report = candidateReport(p, probe, canChoose, providers)
    reports.push(report)
    if (report.usable && canChoose && !chosen) {
      chosen = report
      if (!options.exhaustive) break
    }
  }

  return {
    choiceSource,
    chosen,
    provider: chosenProvider(chosen, providers),
    reports,
    requested: options.requested?.name,
    ...(named
      ? {
          named: {
            runtime: named.provider.name,
            source: named.candidate.endpoint.source,
            url: named.candidate.endpoint.url,
          },
        }
      : {}),
  }
}

/**
 * Turns a failed detection into one of three errors a user can act on:
 * nothing installed, installed but not running, or permission denied.
 */
export function detectionFailure(
  result: DetectionResult,
  providers: readonly DetectableProvider[],
  ctx: RuntimeContext,
): StigmerError {
  const platform = ctx.machine.platform
  const considered = result.requested ? providers.filter((p) => p.name === result.requested) : providers
  const names = considered.map((p) => p.displayName).join(' or ')
  const tried = result.reports
    .map((r) => `  ${r.provider}: ${r.candidate.endpoint.url} (${r.candidate.endpoint.source}): ${r.probe.detail}`)
    .join('\n')
  const data = {
    probed: result.reports.map((r) => ({
      endpoint: r.candidate.endpoint.url,
      runtime: r.provider,
      source: r.candidate.endpoint.source,
      state: r.probe.state,
      detail: r.probe.detail,
    })),
  }

  const denied = result.reports.find((r) => r.probe.state === 'permission')
  if (denied) {
    const provider = considered.find((p) => p.name === denied.provider)!
    const socket = denied.candidate.endpoint.url.replace(/^unix:\/\//, '')
    return new StigmerError(`Permission denied on ${socket}: this user may not use ${provider.displayName}.`, {
      code: 'RUNTIME_PERMISSION',
      data,
      details: `Engines probed:\n${tried}`,
      exit: ExitCode.RUNTIME_PERMISSION,
      suggestions: provider.permissionHints(platform, socket),
    })
  }

  const named = result.reports.find((r) => r.candidate.explicit && r.eligible)
  if (named) return namedEndpointFailure({considered, data, platform, providers, report: named, result, tried})

  const down = result.reports.find((r) => ['error', 'refused', 'timeout'].includes(r.probe.state))
  const installed = considered.filter((p) => p.installed(ctx.machine))
  if (down || installed.length > 0) {
    const report = down
    const provider =
      (report ? considered.find((p) => p.name === report.provider) : undefined) ?? installed[0] ?? considered[0]!
    const where = report ? ` at ${report.candidate.endpoint.url} (${report.probe.detail})` : ''
    const chosenBy = result.requested ? ` (chosen by ${result.choiceSource})` : ''
    return new StigmerError(
      `${provider.displayName} is installed but not running or not answering${where}${chosenBy}.`,
      {
        code: 'RUNTIME_UNREACHABLE',
        data,
        details: `Engines probed:\n${tried}`,
        exit: ExitCode.RUNTIME_UNREACHABLE,
        suggestions: provider.startHints(platform, report?.candidate),
      },
    )
  }

  return new StigmerError(`No container engine found: stigmer needs ${names} to run the agent-runner.`, {
    code: 'NO_RUNTIME',
    data,
    details: tried === '' ? undefined : `Engines probed:\n${tried}`,
    exit: ExitCode.NO_RUNTIME,
    suggestions: considered.flatMap((p) => p.installHints(platform)),
  })
}

/**
 * The endpoint the user named (DOCKER_HOST, CONTAINER_HOST, a docker context) does not answer:
 * exit 11, naming it and where it came from. Nothing else was tried in its place.
 */
function namedEndpointFailure(input: {
  considered: readonly DetectableProvider[]
  data: Record<string, unknown>
  platform: NodeJS.Platform
  providers: readonly DetectableProvider[]
  report: CandidateReport
  result: DetectionResult
  tried: string
}): StigmerError {
  const {considered, platform, providers, report, result} = input
  const {source, url} = report.candidate.endpoint
  const provider =
    considered.find((p) => p.name === report.provider) ?? providers.find((p) => p.name === report.provider)
  const local = url.startsWith('unix://') || url.startsWith('npipe://')
  const variable = /^[A-Z_]+$/.test(source) ? source : undefined
  const chosenBy = result.requested ? `; the engine was chosen by ${result.choiceSource}` : ''
  const others = result.reports.filter((r) => !r.eligible && r.usable)
  const suggestions = [
    local
      ? `Start the engine that listens there${provider ? ` (${provider.startHints(platform, report.candidate)[0]})` : ''}, or correct the path.`
      : `Check that the engine at ${url} is running and that this machine can reach it.`,
    variable
      ? `Or unset ${variable} to let stigmer find an engine on this machine: unset ${variable}`
      : `Or switch to the default context to let stigmer find an engine on this machine: docker context use default`,
    ...others.map(
      (r) =>
        `${providers.find((p) => p.name === (r.identifiedAs ?? r.provider))?.displayName ?? r.provider} answers at ${r.candidate.endpoint.url}; stigmer does not switch to it by itself (pass --runtime ${r.identifiedAs ?? r.provider} to use it).`,
    ),
  ]
  return new StigmerError(
    `The engine endpoint ${url} (from ${source}) does not answer: ${report.probe.detail}${chosenBy}. stigmer uses the endpoint you named and does not switch to another engine.`,
    {
      code: 'RUNTIME_UNREACHABLE',
      data: {...input.data, named: {endpoint: url, source}},
      details: `Engines probed:\n${input.tried}`,
      exit: ExitCode.RUNTIME_UNREACHABLE,
      suggestions,
    },
  )
}

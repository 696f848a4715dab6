import type {Endpoint} from '../adapters/types.js'
import type {RuntimeContext, RuntimeProvider} from '../runtimes.js'
import type {Candidate} from './strategies.js'

import {StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {type ProbeResult, probeEndpoint as realProbe} from './probe.js'

export interface CandidateReport {
  readonly provider: string
  readonly strategy: string
  readonly candidate: Candidate
  readonly probe: ProbeResult
  /** The runtime that actually answers there (a Podman socket at /var/run/docker.sock is Podman). */
  readonly identifiedAs?: string
  readonly usable: boolean
}

export interface DetectionResult {
  readonly chosen: CandidateReport | undefined
  readonly provider: RuntimeProvider | undefined
  readonly reports: readonly CandidateReport[]
  /** Where the choice came from: "--runtime", "STIGMER_CONTAINER_RUNTIME", "config file", "remembered", "auto". */
  readonly choiceSource: string
  readonly requested: string | undefined
}

export interface DetectOptions {
  readonly providers: readonly RuntimeProvider[]
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
export function resolveRequested(name: string, providers: readonly RuntimeProvider[], source: string): RuntimeProvider {
  const wanted = name.trim().toLowerCase()
  const provider = providers.find((p) => p.name === wanted)
  if (!provider) {
    throw usageError(`Unknown container runtime "${name}" (from ${source}).`, [
      `Use one of: ${providers.map((p) => p.name).join(', ')}.`,
    ])
  }

  return provider
}

/**
 * Finds a usable engine. Order: an explicit choice, else Docker if it answers,
 * else Podman if it answers (else plugin runtimes). Candidates are probed in
 * parallel and chosen in order, so a missing Docker costs one failed stat.
 */
export async function detect(options: DetectOptions): Promise<DetectionResult> {
  const {ctx} = options
  const providers = options.requested
    ? [resolveRequested(options.requested.name, options.providers, options.requested.source)]
    : options.providers
  const choiceSource = options.requested?.source ?? 'auto'
  const plan: Array<{candidate: Candidate; provider: RuntimeProvider; strategy: string}> = []
  for (const provider of providers) {
    let explicitSeen = false
    for (const strategy of provider.strategies(ctx)) {
      for (const candidate of strategy.candidates(ctx.machine)) {
        // DOCKER_HOST / a docker context replace the default sockets, as with the docker CLI.
        if (explicitSeen && !candidate.explicit) continue
        if (candidate.explicit) explicitSeen = true
        if (plan.some((p) => p.candidate.endpoint.url === candidate.endpoint.url && p.provider === provider)) continue
        plan.push({candidate, provider, strategy: strategy.name})
      }
    }
  }

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
    let probe = probes[i]
    if (probe === undefined) {
      // A spawnable candidate: its socket may be up from an earlier run.
      probe = await probeEndpoint(p.candidate.endpoint, timeoutMs)
      if (probe.state !== 'ok' && !chosen && options.allowSpawn !== false && p.provider.spawn) {
        try {
          await p.provider.spawn(p.candidate, ctx)
          probe = await probeEndpoint(p.candidate.endpoint, timeoutMs)
        } catch (error) {
          probe = {detail: `could not start it: ${(error as Error).message}`, ms: probe.ms, state: 'error'}
        }
      } else if (probe.state !== 'ok') {
        probe = {...probe, detail: chosen ? 'not needed: another engine answered' : probe.detail, state: 'unprobed'}
      }
    }

    const usable = probe.state === 'ok' || (probe.state === 'unprobed' && p.candidate.endpoint.url.startsWith('ssh://'))
    const identifiedAs = probe.engine && providers.some((x) => x.name === probe.engine) ? probe.engine : p.provider.name
    const report: CandidateReport = {
      candidate: p.candidate,
      identifiedAs,
      probe,
      provider: p.provider.name,
      strategy: p.strategy,
      usable,
    }
    reports.push(report)
    if (usable && !chosen) {
      chosen = report
      if (!options.exhaustive) break
    }
  }

  const provider = chosen
    ? (providers.find((p) => p.name === chosen.identifiedAs) ?? providers.find((p) => p.name === chosen.provider))
    : undefined
  return {choiceSource, chosen, provider, reports, requested: options.requested?.name}
}

/**
 * Turns a failed detection into one of three errors a user can act on:
 * nothing installed, installed but not running, or permission denied.
 */
export function detectionFailure(
  result: DetectionResult,
  providers: readonly RuntimeProvider[],
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

  const explicitFailure = result.reports.find((r) => r.candidate.explicit)
  const down = result.reports.find((r) => ['error', 'refused', 'timeout'].includes(r.probe.state))
  const installed = considered.filter((p) => p.installed(ctx.machine))
  if (down || installed.length > 0 || explicitFailure) {
    const report = explicitFailure ?? down
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

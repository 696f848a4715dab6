/**
 * The verdicts of `stigmer doctor`, as pure functions of facts gathered
 * elsewhere (doctor-probes.ts, detection, the adapter). Each returns one check:
 * ok, warn or fail, a one-line detail, and a hint when there is something to do.
 * A failing check also carries the exit code doctor returns for it.
 */

/* eslint-disable no-bitwise -- file modes are bit fields */
import type {ChoiceReason} from '../engine/choose.js'
import type {CandidateReport} from '../engine/detection/detect.js'
import type {EngineCapabilities, EngineInfo, ImageInfo} from '../engine/types.js'
import type {ResolvedImage} from '../image/resolution.js'
import type {StigmerConfig} from '../lib/config.js'
import type {StigmerError} from '../lib/errors.js'
import type {ServerState} from '../server/state.js'
import type {CurrentUser, DiskFacts, SocketFacts, TcpProbe, WorkspaceFacts} from './facts.js'

import {choiceWords} from '../engine/choose.js'
import {ExitCode} from '../lib/exit-codes.js'
import {formatBytes} from '../lib/format.js'
import {chooseNetworkMode, extraHostsFor, type NetworkMode, rewriteHostAddress} from '../server/network.js'

export type CheckStatus = 'fail' | 'ok' | 'warn'

export interface DoctorCheck {
  readonly id: string
  readonly title: string
  readonly status: CheckStatus
  readonly detail: string
  /** What to do about it; several suggestions are separate lines. */
  readonly hint?: string
}

/** A check plus, when it fails, the exit code it stands for (not part of the JSON). */
export interface CheckResult extends DoctorCheck {
  readonly exit?: number
}

const GB = 1e9

// eslint-disable-next-line max-params -- private helper; positional arguments keep each verdict on one line
function check(
  id: string,
  title: string,
  status: CheckStatus,
  detail: string,
  hint?: string | readonly string[],
  exit?: number,
): CheckResult {
  const hintText = Array.isArray(hint) ? hint.join('\n') : (hint as string | undefined)
  return {
    detail,
    id,
    status,
    title,
    ...(hintText ? {hint: hintText} : {}),
    ...(status === 'fail' && exit !== undefined ? {exit} : {}),
  }
}

// ---------------------------------------------------------------- config

export interface ConfigFacts {
  readonly file: string
  readonly exists: boolean
  readonly config?: StigmerConfig
  readonly error?: StigmerError
}

export function configCheck(facts: ConfigFacts): CheckResult {
  const title = 'Config file'
  if (facts.error) return check('config', title, 'fail', facts.error.message, facts.error.suggestions, ExitCode.CONFIG)
  if (!facts.exists) return check('config', title, 'ok', `no config file at ${facts.file}; defaults apply`)
  const keys = Object.keys(facts.config ?? {}).sort()
  return check(
    'config',
    title,
    'ok',
    `${facts.file} is valid${keys.length > 0 ? ` (sets ${keys.join(', ')})` : ' (empty)'}`,
  )
}

// ---------------------------------------------------------------- engine

export type EngineChoice =
  /** An engine answers and would be used. */
  | {
      readonly kind: 'chosen'
      readonly report: CandidateReport
      readonly reason: ChoiceReason
      readonly displayName: string
      readonly alsoUsable: readonly string[]
    }
  /** Nothing answers now, but stigmer would start `podman system service` itself. */
  | {
      readonly kind: 'would-start'
      readonly report: CandidateReport
      readonly reason: ChoiceReason
      readonly podmanPath: string | undefined
    }
  /** Nothing usable: detectionFailure's classification, or a usage error (bad --runtime, DOCKER_HOST). */
  | {readonly kind: 'none'; readonly failure: StigmerError}

/** Why this engine, in words. */
export function choiceReason(reason: ChoiceReason, displayName: string, alsoUsable: readonly string[]): string {
  if (reason.kind === 'detected' || reason.kind === 'plugin') {
    const others =
      alsoUsable.length > 0
        ? `; ${alsoUsable.join(', ')} also answers (pass --runtime or set STIGMER_CONTAINER_RUNTIME to use it)`
        : ''
    const order =
      reason.kind === 'plugin'
        ? `Docker is tried first, then Podman, then the runtimes plugins add, and ${displayName}${reason.plugin ? ` (from the plugin ${reason.plugin})` : ''} answered`
        : `Docker is tried first, then Podman, and ${displayName} answered`
    return `chosen automatically: ${order}${others}`
  }

  return `chosen by ${choiceWords(reason)}`
}

export function engineCheck(choice: EngineChoice): CheckResult {
  const title = 'Container engine'
  switch (choice.kind) {
    case 'chosen': {
      const {candidate} = choice.report
      return check(
        'engine',
        title,
        'ok',
        `${choice.displayName} at ${candidate.endpoint.url} (${candidate.endpoint.source}), ${choiceReason(choice.reason, choice.displayName, choice.alsoUsable)}`,
      )
    }

    case 'none': {
      const {failure} = choice
      return check('engine', title, 'fail', failure.message, failure.suggestions, failure.exit)
    }

    case 'would-start': {
      const {candidate} = choice.report
      const socket = candidate.endpoint.url.replace(/^unix:\/\//, '')
      return check(
        'engine',
        title,
        'warn',
        `no engine answers now, but stigmer would start \`podman system service\` on ${socket}${choice.podmanPath ? ` (podman: ${choice.podmanPath})` : ''} when a command needs an engine; doctor does not start it`,
        'To keep a Podman API socket running instead: systemctl --user enable --now podman.socket (rootful: sudo systemctl enable --now podman.socket)',
      )
    }
  }
}

/** A malformed DOCKER_HOST / CONTAINER_HOST / docker context that the chosen engine does not depend on (another was asked for). */
export function endpointVariableCheck(error: StigmerError): CheckResult {
  return check(
    'engine-endpoint',
    'Engine endpoint variables',
    'warn',
    `${error.message} (ignored here: another runtime was asked for)`,
    error.suggestions,
  )
}

export function engineInfoCheck(input: {
  displayName: string
  info?: EngineInfo
  error?: Error
  skipped?: string
}): CheckResult {
  const title = 'Engine version'
  if (input.skipped) return check('engine-info', title, 'warn', `not checked: ${input.skipped}`)
  if (input.error || !input.info) {
    return check(
      'engine-info',
      title,
      'fail',
      `${input.displayName} answered its ping but not a request for its version and settings: ${input.error?.message ?? 'no answer'}`,
      `Restart ${input.displayName} and run \`stigmer doctor\` again.`,
      ExitCode.RUNTIME_UNREACHABLE,
    )
  }

  const i = input.info
  const where = i.inVm ? 'in a VM' : 'on this machine'
  return check(
    'engine-info',
    title,
    'ok',
    `${i.name} ${i.version} (API ${i.apiVersion}), ${i.os}/${i.arch}, ${i.rootless ? 'rootless' : 'rootful'}, engine runs ${where}`,
  )
}

// ---------------------------------------------------------------- sockets

/** ls-style mode string: srw-rw----. */
export function formatMode(mode: number): string {
  const type = (mode & 0o17_0000) === 0o14_0000 ? 's' : (mode & 0o17_0000) === 0o04_0000 ? 'd' : '-'
  const bits = 'rwxrwxrwx'
  let out = type
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-'
  return out
}

/** How the user gets (or does not get) write access to a socket, from its mode bits. Connecting to a unix socket needs write permission. */
export function socketAccessVia(
  facts: Pick<SocketFacts, 'gid' | 'groupName' | 'mode' | 'uid'>,
  user: CurrentUser,
): string | undefined {
  if (user.uid === 0) return 'as root'
  if (user.uid === facts.uid) return facts.mode & 0o200 ? 'as its owner' : undefined
  if (user.gids.includes(facts.gid))
    return facts.mode & 0o020 ? `through group ${facts.groupName ?? facts.gid}` : undefined
  return facts.mode & 0o002 ? 'as anyone may' : undefined
}

export function socketCheck(input: {
  facts: SocketFacts
  user: CurrentUser
  runtime: string
  /** An engine is usable (or stigmer would start one), so this socket blocks nothing. */
  engineUsable: boolean
  permissionHints: readonly string[]
}): CheckResult {
  const {facts, user} = input
  const id = `socket:${facts.path}`
  const title = `Socket ${facts.path}`
  const owner = `${facts.ownerName ?? facts.uid}:${facts.groupName ?? facts.gid}`
  const described = `${formatMode(facts.mode)} ${owner}`
  if (!facts.isSocket)
    return check(id, title, 'warn', `${described}: not a socket (${input.runtime} cannot listen here)`)
  const via = socketAccessVia(facts, user)
  const who = user.uid === undefined ? 'you' : `you (uid ${user.uid})`
  if (facts.accessible) return check(id, title, 'ok', `${described}; ${who} can open it${via ? ` ${via}` : ''}`)
  const inGroup = user.gids.includes(facts.gid)
  const group = facts.groupName ?? String(facts.gid)
  const why =
    facts.uid === user.uid
      ? 'its owner may not write to it'
      : inGroup
        ? `group ${group} may not write to it`
        : facts.mode & 0o020
          ? `you are not in group ${group}`
          : `only its owner, ${facts.ownerName ?? `uid ${facts.uid}`}, may open it`
  return check(
    id,
    title,
    input.engineUsable ? 'warn' : 'fail',
    `${described}; ${who} cannot open it (${why})`,
    input.permissionHints,
    ExitCode.RUNTIME_PERMISSION,
  )
}

// ---------------------------------------------------------------- disk

export const LOW_DISK_BYTES = 2 * GB

export function diskCheck(input: {facts?: DiskFacts; where: string; error?: Error}): CheckResult {
  const title = 'Free disk'
  if (input.error || !input.facts)
    return check(
      'disk',
      title,
      'warn',
      `could not measure free space for ${input.where}: ${input.error?.message ?? 'unknown'}`,
    )
  const f = input.facts
  const at = f.measured === f.path ? f.path : `${f.path} (measured at ${f.measured})`
  const detail = `${formatBytes(f.freeBytes)} free of ${formatBytes(f.totalBytes)} at ${at}, ${input.where}`
  if (f.freeBytes < LOW_DISK_BYTES) {
    return check(
      'disk',
      title,
      'warn',
      detail,
      `The agent-runner image needs about 1-2 GB. Free some space, e.g. remove unused images: docker image prune / podman image prune.`,
    )
  }

  return check('disk', title, 'ok', detail)
}

// ---------------------------------------------------------------- network

export function networkCheck(input: {
  platform: NodeJS.Platform
  runtime?: string
  info?: Pick<EngineInfo, 'inVm' | 'name' | 'rootless'>
  /** What the engine declares (host alias, ...); when no engine was found, the first one tried (Docker). */
  capabilities: EngineCapabilities
  requested?: NetworkMode | undefined
  requestedSource?: string
  temporalAddress: string
}): CheckResult & {mode: NetworkMode; reason: string} {
  const title = 'Host networking'
  const guessed = !input.info || !input.runtime
  const {capabilities} = input
  const engineInfo = {
    capabilities,
    inVm: input.info?.inVm ?? input.platform !== 'linux',
    rootless: input.info?.rootless ?? false,
    ...(input.info?.name ? {name: input.info.name} : {}),
  }
  const choice = chooseNetworkMode({
    engineInfo,
    platform: input.platform,
    requested: input.requested,
    ...(input.requestedSource ? {requestedSource: input.requestedSource} : {}),
  })
  const behaves = input.platform === 'linux' && !engineInfo.inVm
  let detail = `${behaves ? 'behaves as on Linux' : 'does not reach this machine (engine in a VM)'}; server start would use ${choice.mode} networking: ${choice.reason}`
  if (choice.mode === 'bridge') {
    const rewritten = rewriteHostAddress(input.temporalAddress, capabilities.hostAlias)
    const hosts = Object.entries(extraHostsFor('bridge', capabilities)).map(([k, v]) => `${k}:${v}`)
    detail += `; in the container ${input.temporalAddress} becomes ${rewritten}${hosts.length > 0 ? ` (with --add-host ${hosts.join(', ')})` : ''}`
  }

  if (guessed) detail = `no engine to ask; ${detail}`
  const status: CheckStatus = choice.caveat || guessed ? 'warn' : 'ok'
  const result = check('network', title, status, detail, choice.caveat ? `Note: ${choice.caveat}.` : undefined)
  return {...result, mode: choice.mode, reason: choice.reason}
}

// ---------------------------------------------------------------- workspace

export function workspaceCheck(facts: WorkspaceFacts, input: {uid: number | undefined; source: string}): CheckResult {
  const title = 'Workspace folder'
  const p = facts.path
  const from = input.source === 'default' ? '' : ` (from ${input.source})`
  if (!facts.exists) {
    if (facts.nearestWritable)
      return check(
        'workspace',
        title,
        'ok',
        `${p}${from} does not exist yet; server start will create it (${facts.nearestExisting} is writable)`,
      )
    return check(
      'workspace',
      title,
      'fail',
      `${p}${from} does not exist and cannot be created: ${facts.nearestExisting} is not writable for this user`,
      [
        `Create it yourself: mkdir -p ${JSON.stringify(p)}`,
        'Or choose another folder: workspace in ~/.stigmer/config.yaml, or --workspace on server start.',
      ],
      ExitCode.WORKSPACE,
    )
  }

  if (facts.isDirectory === false) {
    return check(
      'workspace',
      title,
      'fail',
      `${p}${from} exists but is not a folder`,
      `Move it away, or choose another workspace (workspace in ~/.stigmer/config.yaml).`,
      ExitCode.WORKSPACE,
    )
  }

  if (!facts.writable) {
    const rootOwned = facts.ownerUid === 0 && input.uid !== 0
    return check(
      'workspace',
      title,
      'fail',
      `${p}${from} is not writable: ${facts.writeError ?? 'permission denied'}${rootOwned ? ' (it is owned by root: an engine may have created it)' : ''}`,
      rootOwned
        ? `Give it back to yourself: sudo chown -R "$(id -u):$(id -g)" ${JSON.stringify(p)}`
        : `Make it writable: chmod u+rwx ${JSON.stringify(p)}`,
      ExitCode.WORKSPACE,
    )
  }

  if (facts.writeError) return check('workspace', title, 'warn', `${p}${from} is writable, but ${facts.writeError}`)
  if (input.uid === 0 && input.source === 'default' && facts.ownerUid !== undefined && facts.ownerUid !== 0) {
    // What server start itself does as root: the container keeps the image's non-root user,
    // and stigmer's default workspace is handed to that user so the agent-runner can write it.
    return check(
      'workspace',
      title,
      'ok',
      `${p} is writable; owned by uid ${facts.ownerUid}: as root, server start hands its default workspace to the image's (non-root) user, which the agent-runner runs as`,
    )
  }

  if (input.uid !== undefined && facts.ownerUid !== undefined && facts.ownerUid !== input.uid) {
    return check(
      'workspace',
      title,
      'warn',
      `${p}${from} is writable, but owned by uid ${facts.ownerUid}, not you (uid ${input.uid}): files the agent writes may end up owned by someone else`,
      `sudo chown -R "$(id -u):$(id -g)" ${JSON.stringify(p)}`,
    )
  }

  return check('workspace', title, 'ok', `${p}${from} exists and is writable`)
}

// ---------------------------------------------------------------- temporal

export function temporalCheck(input: {address: string; source: string; probe?: TcpProbe}): CheckResult {
  const title = 'Temporal'
  const from = input.source === 'default' ? ' (the default)' : ` (from ${input.source})`
  const start = [
    'Start Temporal for local use: temporal server start-dev (https://docs.temporal.io/cli), or point TEMPORAL_SERVICE_ADDRESS at yours.',
    '`stigmer server start` only warns about this, unless --require-temporal is given.',
  ]
  if (!input.probe)
    return check(
      'temporal',
      title,
      'warn',
      `TEMPORAL_SERVICE_ADDRESS="${input.address}"${from} is not host:port`,
      start,
    )
  if (input.probe.ok)
    return check(
      'temporal',
      title,
      'ok',
      `${input.probe.detail} at ${input.address}${from} (gRPC GetSystemInfo, ${input.probe.ms} ms)`,
    )
  return check(
    'temporal',
    title,
    'warn',
    `Temporal does not answer at ${input.address}${from}: ${input.probe.detail}`,
    start,
  )
}

// ---------------------------------------------------------------- image

export function imageCheck(input: {
  image: ResolvedImage
  displayName?: string
  /** The runtime's name, for `--runtime`. */
  runtime?: string
  present?: ImageInfo | null
  error?: Error
  skipped?: string
}): CheckResult {
  const title = 'Agent-runner image'
  const {image} = input
  const which =
    image.source === 'pinned'
      ? `${image.ref} (pinned to this CLI version)`
      : `${image.ref} (from ${image.source}; this CLI pins ${image.pinned})`
  if (input.skipped) return check('image', title, 'warn', `expects ${which}; not checked: ${input.skipped}`)
  if (input.error)
    return check(
      'image',
      title,
      'warn',
      `expects ${which}; could not ask ${input.displayName ?? 'the engine'}: ${input.error.message}`,
    )
  if (input.present) {
    const p = input.present
    return check(
      'image',
      title,
      'ok',
      `${which} is present in ${input.displayName} (${p.id.replace(/^sha256:/, '').slice(0, 12)}, ${formatBytes(p.size)}, ${p.os}/${p.architecture})`,
    )
  }

  return check(
    'image',
    title,
    'warn',
    `${which} is not present in ${input.displayName}; \`stigmer server start\` will pull it`,
    `To fetch it now: stigmer image pull${input.runtime ? ` --runtime ${input.runtime}` : ''}`,
  )
}

// ---------------------------------------------------------------- remembered engine

export function rememberedCheck(state: ServerState, usableRuntimes: readonly string[]): CheckResult {
  const title = 'Last server start'
  const detail = `the agent-runner was last started with ${state.runtime} at ${state.endpoint} (${state.network} networking, workspace ${state.workspace}); server status/logs/stop use that engine`
  if (usableRuntimes.includes(state.runtime)) return check('remembered', title, 'ok', detail)
  return check(
    'remembered',
    title,
    'warn',
    `${detail}, but ${state.runtime} does not answer now`,
    `Start ${state.runtime} again, or pass --runtime to the server commands.`,
  )
}

// ---------------------------------------------------------------- verdict and exit code

export function verdictOf(checks: readonly DoctorCheck[]): CheckStatus {
  if (checks.some((c) => c.status === 'fail')) return 'fail'
  if (checks.some((c) => c.status === 'warn')) return 'warn'
  return 'ok'
}

/**
 * The exit code for a set of checks: 0 unless one fails; then the code of the
 * first failing check in this order: engine (10/11/12, or 2 for a bad
 * --runtime / DOCKER_HOST), engine version (11), socket (12), config file
 * (50), workspace (41).
 */
export const EXIT_PRECEDENCE = ['engine', 'engine-info', 'socket', 'config', 'workspace'] as const

export function exitCodeOf(checks: readonly CheckResult[]): number {
  const failing = checks.filter((c) => c.status === 'fail')
  if (failing.length === 0) return ExitCode.OK
  for (const prefix of EXIT_PRECEDENCE) {
    const hit = failing.find((c) => c.id === prefix || c.id.startsWith(`${prefix}:`))
    if (hit?.exit !== undefined) return hit.exit
  }

  return failing.find((c) => c.exit !== undefined)?.exit ?? ExitCode.GENERAL
}

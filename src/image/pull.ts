import type {ContainerRuntime, ProgressEvent} from '../engine/types.js'
import type {PullReporter} from '../ui/pull-reporter.js'

import {engineGone, engineStopped} from '../engine/engine-gone.js'
import {RuntimeError} from '../engine/errors.js'
import {InterruptedError, StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {formatBytes} from '../lib/format.js'
import {parseImageRef, registryOf} from '../lib/image-ref.js'
import {silentReporter} from '../ui/pull-reporter.js'
import {LayerTracker, PULL_EVENTS} from './layer-progress.js'
import {enginePlatform, RegistryClient} from './registry-client.js'

export const DEFAULT_PULL_TIMEOUT_SECONDS = 300
export const DEFAULT_PULL_RETRIES = 3

export interface PullOptions {
  readonly signal?: AbortSignal | undefined
  /** The whole pull, retries included. Default 300 s. */
  readonly timeoutMs?: number | undefined
  /** Retries on transient failures (network, rate limits). Default 3. */
  readonly retries?: number | undefined
  /** First backoff delay; doubles each retry. Default 1 s. */
  readonly backoffMs?: number | undefined
  readonly reporter?: PullReporter | undefined
  /** Size from the registry, when the caller already asked for it. */
  readonly sizeBytes?: number | undefined
}

export interface PullOutcome {
  readonly ref: string
  readonly id: string
  readonly digest: string | undefined
  /** Download size from the registry manifest, when it could be read. */
  readonly sizeBytes: number | undefined
  /** Size of the image on disk after the pull. */
  readonly imageSizeBytes: number
  readonly attempts: number
}

const TRANSIENT =
  /timeout|timed out|tls handshake|connection reset|connection refused|EOF|i\/o timeout|too many requests|toomanyrequests|rate limit|\b429\b|\b50[234]\b|temporar|network is unreachable|no such host|server misbehaving/i

export function isTransient(error: unknown): boolean {
  if (!(error instanceof RuntimeError)) return false
  if (error.reason === 'not-found' || error.reason === 'auth' || error.reason === 'aborted') return false
  return error.reason === 'timeout' || error.reason === 'unreachable' || TRANSIENT.test(error.message)
}

/**
 * The download size from the registry's manifest for the engine's platform.
 * undefined when the registry cannot be asked (offline, auth, no manifest).
 */
export async function remoteImageSize(
  runtime: ContainerRuntime,
  ref: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  return (await remoteDownload(runtime, ref, signal))?.size
}

/** The download size and each layer's size (by short id), from the registry's manifest; undefined when it cannot be asked. */
async function remoteDownload(
  runtime: ContainerRuntime,
  ref: string,
  signal?: AbortSignal,
): Promise<undefined | {layers: Map<string, number>; size: number}> {
  try {
    const parsed = parseImageRef(ref)
    const [platform, credentials] = await Promise.all([
      platformOf(runtime),
      runtime.credentialsFor(registryOf(parsed)).catch(() => undefined),
    ])
    const timeout = AbortSignal.timeout(5000)
    const client = new RegistryClient(parsed, credentials, signal ? AbortSignal.any([signal, timeout]) : timeout)
    return await client.download(platform)
  } catch {
    return undefined
  }
}

/**
 * The platform the engine pulls for. An engine on a local socket runs on this machine's
 * architecture (Docker Desktop's and Podman machine's Linux VMs too), so it is not asked:
 * Podman answers /info and /version in 0.3 to 0.6 s, and while it does, the pull beside
 * them slows down (2 cores: 1.65 s alone, 2.25 s beside them).
 */
export async function platformOf(
  runtime: Pick<ContainerRuntime, 'endpoint' | 'info'>,
  arch: string = process.arch,
): Promise<{architecture: string; os: string; variant?: string}> {
  if (runtime.endpoint.url.startsWith('unix://')) return enginePlatform('linux', arch)
  const info = await runtime.info()
  return enginePlatform(info.os, info.arch)
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(new RuntimeError('aborted', 'Cancelled.'))
      },
      {once: true},
    )
  })

/**
 * Pulls an image with progress, an overall timeout, and retries with backoff
 * on transient failures. One implementation for the first-run pull, `server
 * start --pull always` and `image pull`.
 */
export async function pullImage(
  runtime: ContainerRuntime,
  ref: string,
  options: PullOptions = {},
): Promise<PullOutcome> {
  const reporter = options.reporter ?? silentReporter
  const timeoutMs = options.timeoutMs ?? DEFAULT_PULL_TIMEOUT_SECONDS * 1000
  const retries = options.retries ?? DEFAULT_PULL_RETRIES
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
  // The size (for the bar) is asked while the pull already runs: it needs the engine's platform,
  // and Podman's /info and /version took 0.3 to 0.6 s before the pull could start.
  let sizeBytes = options.sizeBytes
  let layerSizes: Map<string, number> | undefined
  let begun = false
  const begin = () => {
    if (!begun) reporter.begin(ref, sizeBytes)
    begun = true
  }

  const sizing = new AbortController()
  // remoteDownload never rejects: undefined when the registry cannot be asked. Asked also when the
  // caller knows the size: the layers' sizes give Podman, whose events carry none, a moving bar.
  // Asked once the engine has begun (its first event), or after 100 ms: started together, its
  // first fetch (Node loads undici then) held back the pull's own request by ~17 ms.
  let sized: Promise<void> | undefined
  const startSizing = () => {
    clearTimeout(sizingTimer)
    sized ??= remoteDownload(runtime, ref, AbortSignal.any([signal, sizing.signal])).then((download) => {
      if (sizing.signal.aborted) return
      sizeBytes ??= download?.size
      layerSizes = download?.layers
      begin()
    }, begin)
    return sized
  }

  const sizingTimer = setTimeout(startSizing, 100)
  if (sizeBytes !== undefined) begin()

  const manual = `${runtime.cli} pull ${ref}`
  let attempt = 0
  try {
    for (;;) {
      attempt++
      const outcome = await attemptPull(attempt)
      if (outcome) return outcome
    }
  } finally {
    clearTimeout(sizingTimer)
    sizing.abort()
  }

  /** One attempt: the outcome, undefined to try again, or the error that ends the pull. */
  async function attemptPull(attempt: number): Promise<PullOutcome | undefined> {
    const tracker = new LayerTracker(
      ref,
      PULL_EVENTS,
      () => sizeBytes,
      () => layerSizes,
    )
    try {
      const result = await runtime.pullImage(ref, {
        onProgress(event: ProgressEvent) {
          startSizing()
          if (event.kind === 'layer') {
            tracker.apply(event)
            if (begun) reporter.update(tracker.stats())
          }
        },
        signal,
      })
      // A pull quicker than the registry's answer (layers already there) still reports the size.
      if (sizeBytes === undefined) await startSizing()
      // The adapter inspected the image already; a runtime that does not say its size is asked.
      const imageSizeBytes = result.sizeBytes ?? (await runtime.inspectImage(result.ref))?.size ?? 0
      begin()
      reporter.end('ok')
      return {
        attempts: attempt,
        digest: result.digest,
        id: result.id,
        imageSizeBytes,
        ref: result.ref,
        sizeBytes,
      }
    } catch (error) {
      if (options.signal?.aborted) {
        reporter.end('failed')
        throw new InterruptedError(`Interrupted while pulling ${ref}`)
      }

      if (timeout.aborted) {
        reporter.end('failed')
        throw new StigmerError(`Pulling ${ref} did not finish within ${Math.round(timeoutMs / 1000)} s.`, {
          code: 'PULL_FAILED',
          command: manual,
          exit: ExitCode.PULL_FAILED,
          kind: 'external',
          suggestions: [
            'Check your network connection, or raise the limit: --pull-timeout 15m (or pullTimeoutSeconds in ~/.stigmer/config.yaml).',
            `Or pull it by hand, then run the command again: ${manual}`,
          ],
        })
      }

      // A connection that broke may be the engine itself going away: then retrying cannot help,
      // and it is not the network's fault (exit 11, not 21 "check your network").
      if (error instanceof RuntimeError && error.reason !== 'not-found' && error.reason !== 'auth') {
        const gone = await engineGone(runtime, signal)
        if (gone) {
          reporter.end('failed')
          throw engineStopped(runtime, `pulling ${ref}`, gone, {cause: error})
        }
      }

      if (attempt <= retries && isTransient(error)) {
        begin()
        const delay = (options.backoffMs ?? 1000) * 2 ** (attempt - 1)
        reporter.message(
          `${(error as Error).message.split('\n')[0]}; retrying in ${Math.round(delay / 1000)} s (attempt ${attempt + 1} of ${retries + 1})`,
        )
        await sleep(delay, signal).catch(() => undefined)
        return undefined
      }

      reporter.end('failed')
      throw pullFailure(error, ref, runtime, attempt)
    }
  }
}

function pullFailure(error: unknown, ref: string, runtime: ContainerRuntime, attempts: number): StigmerError {
  const manual = `${runtime.cli} pull ${ref}`
  // The adapter already says "Could not pull REF: ..."; keep only the engine's words.
  const message = (error instanceof Error ? error.message : String(error)).replace(/^Could not pull \S+: /, '')
  const registry = registryOf(ref)
  if (error instanceof RuntimeError && error.reason === 'not-found') {
    return new StigmerError(`The image ${ref} was not found: ${message}`, {
      cause: error,
      code: 'IMAGE_NOT_FOUND',
      command: manual,
      exit: ExitCode.IMAGE_NOT_FOUND,
      kind: 'external',
      suggestions: [
        'Check the image name and tag (stigmer version shows the image this CLI expects).',
        'To run an image you built yourself: stigmer image build, then stigmer server start --use-local-image.',
      ],
    })
  }

  if (error instanceof RuntimeError && error.reason === 'auth') {
    return new StigmerError(`${registry} refused access to ${ref}: ${message}`, {
      cause: error,
      code: 'REGISTRY_AUTH',
      command: manual,
      exit: ExitCode.REGISTRY_AUTH,
      kind: 'external',
      suggestions: [`Log in to the registry: stigmer image login ${registry} --username <user> --password-stdin`],
    })
  }

  return new StigmerError(`Could not pull ${ref}${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${message}`, {
    cause: error,
    code: 'PULL_FAILED',
    command: manual,
    exit: ExitCode.PULL_FAILED,
    kind: 'external',
    suggestions: [
      'Check your network connection and that the registry is reachable.',
      `Or pull it by hand and run the command again: ${manual}`,
    ],
  })
}

/** The one-time-setup message shown before the first pull of an image. */
export function firstRunMessage(ref: string, sizeBytes: number | undefined): string {
  const size = sizeBytes ? ` (${formatBytes(sizeBytes)})` : ''
  return `One-time setup: downloading the agent-runner image ${ref}${size}. Later starts use the local copy.`
}

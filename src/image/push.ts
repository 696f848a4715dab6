import type {ContainerRuntime, ImageInfo, ProgressEvent} from '../engine/types.js'
import type {PullStats} from '../ui/pull-reporter.js'

import {RuntimeError} from '../engine/errors.js'
import {InterruptedError, StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {DEFAULT_IMAGE_REPOSITORY, LOCAL_DEV_IMAGE, parseImageRef, registryOf, sameImage} from '../lib/image-ref.js'
import {OCI} from './build.js'
import {gitInfo} from './git.js'
import {LayerTracker, PUSH_EVENTS} from './layer-progress.js'
import {loginHint, tokenHint} from './login.js'
import {listRepositoryTags} from './registry.js'
import {type HeldTag, parseReleaseVersion, parseRepository, planPush, type PushKind} from './tags.js'

export interface PushRequest {
  /** --image; default the development image `image build` made. */
  readonly image?: string | undefined
  /** --repository; then `repository` in the config file; then ghcr.io/stigmer/agent-runner. */
  readonly repository?: string | undefined
  readonly configRepository?: string | undefined
  /** --version */
  readonly version?: string | undefined
  /** --source: a git checkout whose HEAD names a development push when the image has no revision label. */
  readonly sourceDir?: string | undefined
}

export interface PushTarget {
  readonly ref: string
  readonly tag: string
}

export interface ImagePushPlan {
  readonly source: string
  readonly sourceId: string
  readonly manifestList: boolean
  readonly repository: string
  readonly registry: string
  readonly kind: PushKind
  readonly version: string | undefined
  readonly revision: string | undefined
  /** Where the revision came from, for messages. */
  readonly revisionFrom: 'label' | 'none' | '--source'
  readonly targets: readonly PushTarget[]
  /** Floating tags left on a newer release already in the repository. */
  readonly held: readonly HeldTag[]
  /** Set when the repository's tags could not be read: floating tags then move unconditionally. */
  readonly warning: string | undefined
  /** The user the engine's stored credentials name, when it has any for the registry. */
  readonly username: string | undefined
}

/** Pure checks first: a bad --version or --repository is a usage error before the engine is asked anything. */
export function validatePushFlags(request: PushRequest): {repository: string} {
  if (request.version !== undefined) parseReleaseVersion(request.version)
  const repository = parseRepository(request.repository ?? request.configRepository ?? DEFAULT_IMAGE_REPOSITORY)
  if (request.image !== undefined) parseImageRef(request.image)
  return {repository}
}

/** Works out what goes where: validates, finds the image, reads its revision, computes the tags. Pushes nothing. */
export async function planImagePush(
  runtime: ContainerRuntime,
  request: PushRequest,
  options: {signal?: AbortSignal} = {},
): Promise<ImagePushPlan> {
  const {repository} = validatePushFlags(request)
  const source = parseImageRef(request.image ?? LOCAL_DEV_IMAGE).ref
  const info = await runtime.inspectImage(source)
  if (!info) {
    throw new StigmerError(`There is no image ${source} in ${runtime.displayName} to push.`, {
      code: 'IMAGE_NOT_FOUND',
      exit: ExitCode.IMAGE_NOT_FOUND,
      kind: 'user',
      suggestions:
        request.image === undefined
          ? [
              'Build it first: stigmer image build --source <agent-runner checkout>',
              'Or push another image with --image REF.',
            ]
          : [`Check the name (${runtime.cli} images), or build it: stigmer image build --tag ${source}`],
    })
  }

  const {revision, revisionFrom} = await revisionOf(info, request)
  const registry = registryOf(repository)
  const credentials = await runtime.credentialsFor(registry).catch(() => {})
  // A stable release only moves v1.2 / v1 / latest when nothing newer is there: read what is.
  let existingTags: string[] = []
  let warning: string | undefined
  if (request.version !== undefined && !parseReleaseVersion(request.version).prerelease) {
    const listed = await listRepositoryTags(repository, credentials ?? undefined, {signal: options.signal})
    if (listed.ok) existingTags = listed.tags
    else
      warning = `Could not read the tags already in ${repository} (${listed.reason}): the floating tags are moved without checking for a newer release.`
  }

  const plan = planPush({existingTags, repository, revision, version: request.version})
  return {
    held: plan.held,
    warning,
    kind: plan.kind,
    manifestList: looksLikeManifestList(source, info),
    registry,
    repository,
    revision: plan.revision,
    revisionFrom: plan.revision ? revisionFrom : 'none',
    source,
    sourceId: info.id,
    targets: plan.refs.map((ref, i) => ({ref, tag: plan.tags[i]!})),
    username: credentials ? credentials.username : undefined,
    version: plan.version,
  }
}

async function revisionOf(
  info: ImageInfo,
  request: PushRequest,
): Promise<{revision: string | undefined; revisionFrom: ImagePushPlan['revisionFrom']}> {
  const label = info.labels[OCI.revision]
  if (label && /^[\da-f]{7,64}$/i.test(label)) return {revision: label, revisionFrom: 'label'}
  if (request.sourceDir) {
    const git = await gitInfo(request.sourceDir)
    if (git) return {revision: git.revision, revisionFrom: '--source'}
  }

  return {revision: undefined, revisionFrom: 'none'}
}

/**
 * Inspecting a manifest list by name answers with one of its images (Podman's
 * compat API), which does not carry the list's name: that tells them apart
 * without asking the engine's CLI. Informational only: the adapter pushes
 * lists with all their platforms by itself.
 */
function looksLikeManifestList(source: string, info: ImageInfo): boolean {
  return !parseImageRef(source).digest && !info.tags.some((t) => sameImage(t, source))
}

export interface PushedRef {
  readonly ref: string
  readonly digest: string | undefined
}

export interface PushOutcome {
  readonly source: string
  readonly repository: string
  readonly registry: string
  readonly kind: PushKind
  readonly version: string | undefined
  readonly revision: string | undefined
  readonly manifestList: boolean
  readonly dryRun: boolean
  readonly pushed: readonly PushedRef[]
  /** The digest the registry stored (all tags name the same manifest). */
  readonly digest: string | undefined
  readonly tags: readonly string[]
  /** Floating tags not moved because the repository has a newer release. */
  readonly held: readonly HeldTag[]
  readonly runtime: string
  readonly durationMs: number
}

/** What the push view is told. */
export type PushEvent =
  | {kind: 'done'; digest: string | undefined; ref: string}
  | {kind: 'progress'; ref: string; stats: PullStats; text?: string}
  | {kind: 'start'; ref: string}

/**
 * Tags the source under each target and pushes them, most specific tag first
 * (`latest` last, so it never moves ahead of the versioned tags). The tags it
 * added locally are removed afterwards, whatever happens: the local image
 * store ends as it was. The first refusal stops the push.
 */
export async function pushImage(
  runtime: ContainerRuntime,
  plan: ImagePushPlan,
  options: {onEvent?: (event: PushEvent) => void; signal?: AbortSignal} = {},
): Promise<PushOutcome> {
  const started = Date.now()
  const emit = options.onEvent ?? (() => {})
  const pushed: PushedRef[] = []
  const added: string[] = []
  try {
    for (const target of plan.targets) {
      if (options.signal?.aborted) throw new InterruptedError('Push interrupted')
      if (!(await runtime.imageExists(target.ref))) added.push(target.ref)
      await runtime.tagImage(plan.source, target.ref)
      emit({kind: 'start', ref: target.ref})
      const tracker = new LayerTracker(target.ref, PUSH_EVENTS)
      const result = await runtime.pushImage(target.ref, {
        onProgress(event: ProgressEvent) {
          if (event.kind === 'layer') {
            tracker.apply(event)
            emit({kind: 'progress', ref: target.ref, stats: tracker.stats()})
          } else if (event.kind === 'status') {
            emit({kind: 'progress', ref: target.ref, stats: tracker.stats(), text: event.message})
          }
        },
        ...(options.signal ? {signal: options.signal} : {}),
      })
      pushed.push({digest: result.digest, ref: target.ref})
      emit({digest: result.digest, kind: 'done', ref: target.ref})
    }
  } catch (error) {
    if (options.signal?.aborted) throw new InterruptedError('Push interrupted')
    throw pushFailure(error, runtime, plan, pushed)
  } finally {
    for (const ref of added.reverse()) await runtime.removeImage(ref).catch(() => {})
  }

  return outcomeOf(runtime, plan, {
    digest: pushed.find((p) => p.digest)?.digest,
    dryRun: false,
    durationMs: Date.now() - started,
    pushed,
  })
}

/** --dry-run: the same answer shape, nothing pushed. */
export function dryRunOutcome(runtime: ContainerRuntime, plan: ImagePushPlan): PushOutcome {
  return outcomeOf(runtime, plan, {digest: undefined, dryRun: true, durationMs: 0, pushed: []})
}

/** The answer of a push: the plan's facts, and what this run did. */
function outcomeOf(
  runtime: ContainerRuntime,
  plan: ImagePushPlan,
  run: Pick<PushOutcome, 'digest' | 'dryRun' | 'durationMs' | 'pushed'>,
): PushOutcome {
  return {
    ...run,
    held: plan.held,
    kind: plan.kind,
    manifestList: plan.manifestList,
    registry: plan.registry,
    repository: plan.repository,
    revision: plan.revision,
    runtime: runtime.name,
    source: plan.source,
    tags: plan.targets.map((t) => t.tag),
    version: plan.version,
  }
}

function pushFailure(
  error: unknown,
  runtime: ContainerRuntime,
  plan: ImagePushPlan,
  pushed: readonly PushedRef[],
): StigmerError {
  if (error instanceof StigmerError) return error
  const failedRef = plan.targets[pushed.length]?.ref ?? plan.repository
  const detail = error instanceof Error ? error.message : String(error)
  const already = pushed.length > 0 ? ` Already pushed: ${pushed.map((p) => p.ref).join(', ')}.` : ''
  const data = {
    pushed: pushed.map((p) => ({digest: p.digest ?? null, ref: p.ref})),
    registry: plan.registry,
    user: plan.username ?? null,
  }
  if (error instanceof RuntimeError && error.reason === 'auth') {
    const who = plan.username
      ? `user ${plan.username}`
      : `an anonymous push (${runtime.displayName} has no credentials for it)`
    const hint = tokenHint(plan.registry)
    return new StigmerError(`${plan.registry} refused ${who}: ${failedRef} was not pushed.${already}`, {
      cause: error,
      code: 'REGISTRY_AUTH',
      data,
      details: detail,
      exit: ExitCode.REGISTRY_AUTH,
      kind: 'external',
      suggestions: [
        `Log in (stored by ${runtime.cli} itself): ${loginHint(plan.registry, plan.username)}`,
        ...(plan.username ? [`Check that ${plan.username} may push to ${plan.repository}.`] : []),
        ...(hint ? [hint] : []),
      ],
    })
  }

  return new StigmerError(`Could not push ${failedRef}: ${detail}${already}`, {
    cause: error,
    code: 'PUSH_FAILED',
    command: `${runtime.cli} push ${failedRef}`,
    data,
    exit: ExitCode.PUSH_FAILED,
    kind: 'external',
    suggestions: [
      `Check that ${plan.registry} is reachable from ${runtime.displayName}, then run the push again (tags already pushed are pushed again, cheaply).`,
    ],
  })
}

import semver from 'semver'

import {usageError} from '../lib/errors.js'
import {formatRef, LOCAL_DEV_IMAGE, MAX_TAG_LENGTH, parseImageRef, quoteInput} from '../lib/image-ref.js'

/**
 * Which tags an agent-runner image gets: pure functions, no engine, no git.
 * `image build` and `image push` both call them, so a development build and
 * its push agree on `dev-<sha>`.
 */

/** A release version, validated and normalised ("v1.2.3" is accepted as "1.2.3"). */
export interface ReleaseVersion {
  /** 1.2.3 or 1.3.0-rc.1, without a leading v. */
  readonly version: string
  readonly major: number
  readonly minor: number
  readonly patch: number
  readonly prerelease: boolean
}

/** How many hex digits of the commit a `dev-<sha>` tag carries. Fixed, so build and push agree whatever core.abbrev says. */
export const DEV_SHA_LENGTH = 7

/**
 * Parses X.Y.Z[-pre] with `semver` (strict: no "1.2", no "=1.2.3"). Build
 * metadata (+build.5) is refused: `+` cannot appear in an image tag, and two
 * builds differing only in metadata would fight over the same tags.
 */
export function parseReleaseVersion(input: string): ReleaseVersion {
  const raw = input.trim()
  const candidate = raw.startsWith('v') ? raw.slice(1) : raw
  // Before semver (which gives up past 256 characters): the version becomes the tag
  // v<version>, and distribution/reference allows 128 characters.
  const tagLength = candidate.length + 1
  if (tagLength > MAX_TAG_LENGTH && /^\d+\.\d+\.\d+-/.test(candidate)) {
    throw usageError(
      `The version ${quoteInput(raw, 60)} makes the tag "v…" ${tagLength} characters long; an image tag has at most ${MAX_TAG_LENGTH}.`,
      [`Use a shorter pre-release, e.g. ${candidate.split('-')[0]}-rc.1.`],
    )
  }

  // semver.parse also takes " v1.2.3" and "=1.2.3"; a tag must be exactly X.Y.Z[-pre][+build].
  const parsed = /^\d+\.\d+\.\d+(?:[-+][\w.+-]*)?$/.test(candidate) ? semver.parse(candidate) : null
  if (!parsed) {
    throw usageError(
      `${quoteInput(input, 60)} is not a semantic version: use X.Y.Z or X.Y.Z-prerelease, e.g. 1.2.3 or 1.3.0-rc.1.`,
      ['See https://semver.org for the format.'],
    )
  }

  if (parsed.build.length > 0) {
    throw usageError(
      `"${input}" has build metadata (+${parsed.build.join('.')}), which cannot be part of an image tag.`,
      [
        `Use ${parsed.version} or a pre-release such as ${parsed.major}.${parsed.minor}.${parsed.patch}-build.${parsed.build.join('.')}.`,
      ],
    )
  }

  return {
    major: parsed.major,
    minor: parsed.minor,
    patch: parsed.patch,
    prerelease: parsed.prerelease.length > 0,
    version: parsed.version,
  }
}

/** A floating tag left where it is, and the newer release that keeps it there. */
export interface HeldTag {
  readonly tag: string
  /** The tag of the newer release already in the repository, e.g. "v1.2.0". */
  readonly newer: string
}

/**
 * The stable releases a repository already holds, from its tag list: "v1.2.3"
 * and "1.2.3" count; floating tags, pre-releases and anything else do not.
 */
export function stableVersions(tags: readonly string[]): semver.SemVer[] {
  const out: semver.SemVer[] = []
  for (const tag of tags) {
    const text = tag.startsWith('v') ? tag.slice(1) : tag
    if (!/^\d+\.\d+\.\d+$/.test(text)) continue
    const parsed = semver.parse(text)
    if (parsed) out.push(parsed)
  }

  return out
}

/**
 * The tags a release is pushed under, most specific first:
 * - stable 1.2.3: v1.2.3, v1.2, v1, latest;
 * - a 0.x release (0.4.1): v0.4.1, v0.4, latest. No `v0`: below 1.0 a minor
 *   release may break, so a `v0` tag would promise a compatibility semver
 *   does not give (docker/metadata-action skips it for the same reason);
 * - a pre-release (1.3.0-rc.1): only v1.3.0-rc.1. It never moves v1.3, v1 or latest.
 *
 * With `existing` (the repository's tags), a floating tag never moves
 * backwards: a 1.1.5 patch pushed after 1.2.0 gets v1.1.5 and v1.1, but v1
 * and latest stay on 1.2.0. Those are returned in `held`.
 */
export function releaseTags(input: string | ReleaseVersion, existing: readonly string[] = []): string[] {
  return planReleaseTags(input, existing).tags
}

export function planReleaseTags(
  input: string | ReleaseVersion,
  existing: readonly string[] = [],
): {held: HeldTag[]; tags: string[]} {
  const v = typeof input === 'string' ? parseReleaseVersion(input) : input
  if (v.prerelease) return {held: [], tags: [`v${v.version}`]}
  const released = stableVersions(existing)
  const newest = (inLine: (s: semver.SemVer) => boolean) =>
    released.filter((s) => inLine(s) && semver.gt(s, v.version)).sort(semver.rcompare)[0]
  const candidates: Array<[string, semver.SemVer | undefined]> = [
    [`v${v.major}.${v.minor}`, newest((s) => s.major === v.major && s.minor === v.minor)],
  ]
  if (v.major > 0) candidates.push([`v${v.major}`, newest((s) => s.major === v.major)])
  candidates.push(['latest', newest(() => true)])
  const tags = [`v${v.version}`]
  const held: HeldTag[] = []
  for (const [tag, newer] of candidates) {
    if (newer) held.push({newer: `v${newer.version}`, tag})
    else tags.push(tag)
  }

  return {held, tags}
}

/** True for a full or abbreviated git commit id. */
export function isCommitSha(value: string | undefined): value is string {
  return value !== undefined && /^[\da-f]{7,64}$/i.test(value.trim())
}

/** `dev-<first 7 hex digits>` of a commit. */
export function devTag(revision: string): string {
  const sha = revision.trim().toLowerCase()
  if (!isCommitSha(sha)) throw usageError(`"${revision}" is not a git commit id, so it cannot name a dev-<sha> tag.`)
  return `dev-${sha.slice(0, DEV_SHA_LENGTH)}`
}

export type PushKind = 'development' | 'prerelease' | 'release'

export interface PushPlan {
  readonly kind: PushKind
  /** Floating tags a newer release in the repository keeps where they are. */
  readonly held: readonly HeldTag[]
  /** Tags only, most specific first. */
  readonly tags: readonly string[]
  /** repository:tag for each tag, in push order. */
  readonly refs: readonly string[]
  readonly version?: string
  readonly revision?: string
}

export interface PushTagInput {
  /** --version, unvalidated. */
  readonly version?: string | undefined
  /** The image's org.opencontainers.image.revision label, or the source's git commit. */
  readonly revision?: string | undefined
  /** Where the tags go: registry/name, no tag, no digest. */
  readonly repository: string
  /** The tags the repository already has (so floating tags never move backwards). */
  readonly existingTags?: readonly string[] | undefined
}

/** Validates `--repository`: a name with a registry, no tag, no digest. */
export function parseRepository(input: string): string {
  const ref = parseImageRef(input)
  if (ref.tag || ref.digest) {
    throw usageError(`--repository takes a repository without a tag or digest (got "${input}").`, [
      `Use ${formatRef({registry: ref.registry, repository: ref.repository})} and pick tags with --version.`,
    ])
  }

  return formatRef({registry: ref.registry, repository: ref.repository})
}

/**
 * What `image push` pushes where. With a version: the release tags; without
 * one: `dev-<sha>` of the revision. No version and no revision is a usage
 * error: there is nothing honest to call the image.
 */
export function planPush(input: PushTagInput): PushPlan {
  const repository = parseRepository(input.repository)
  if (input.version !== undefined) {
    const v = parseReleaseVersion(input.version)
    const {held, tags} = planReleaseTags(v, input.existingTags ?? [])
    return {
      held,
      kind: v.prerelease ? 'prerelease' : 'release',
      refs: tags.map((t) => `${repository}:${t}`),
      tags,
      version: v.version,
      ...(isCommitSha(input.revision) ? {revision: input.revision.trim().toLowerCase()} : {}),
    }
  }

  if (!isCommitSha(input.revision)) {
    throw usageError(
      'Without --version this is a development push, tagged dev-<git sha>, but the image records no git commit.',
      [
        'Pass --version X.Y.Z to push a release.',
        'Or rebuild from a git checkout (stigmer image build --source DIR), which records the commit in the org.opencontainers.image.revision label.',
        'Or pass --source DIR pointing at the git checkout the image was built from.',
      ],
    )
  }

  const tag = devTag(input.revision)
  return {
    held: [],
    kind: 'development',
    refs: [`${repository}:${tag}`],
    revision: input.revision.trim().toLowerCase(),
    tags: [tag],
  }
}

export interface BuildTagInput {
  /** The source's full git commit, when it is a git checkout. */
  readonly revision?: string | undefined
  readonly version?: ReleaseVersion | undefined
  /** --tag values, as given. */
  readonly extra?: readonly string[]
}

/**
 * The tags `image build` gives: the development image `server start
 * --use-local-image` runs, `dev-<sha>` of a git checkout, `v<version>` with
 * --version, then the user's own --tag values. Duplicates are dropped; every
 * tag is validated as an image reference.
 */
export function buildTags(input: BuildTagInput): string[] {
  const local = parseImageRef(LOCAL_DEV_IMAGE)
  const named = (tag: string) => formatRef({registry: local.registry, repository: local.repository, tag})
  const tags = [LOCAL_DEV_IMAGE]
  if (isCommitSha(input.revision)) tags.push(named(devTag(input.revision)))
  if (input.version) tags.push(named(`v${input.version.version}`))
  for (const extra of input.extra ?? []) {
    const ref = parseImageRef(extra)
    if (ref.digest) throw usageError(`--tag "${extra}" has a digest; a tag cannot.`)
    tags.push(ref.ref)
  }

  return [...new Set(tags)]
}

import {usageError} from './errors.js'

/** A parsed image reference. `parseImageRef` builds these. */
export interface ImageRef {
  /** Registry host (with port) or undefined for Docker Hub. */
  readonly registry: string | undefined
  readonly repository: string
  readonly tag: string | undefined
  readonly digest: string | undefined
  /** The full reference as given to the engine: registry/repository[:tag][@digest]. */
  readonly ref: string
}

export const DEFAULT_IMAGE_REPOSITORY = 'ghcr.io/stigmer/agent-runner'
/** The tag `stigmer image build` gives the development image that `server start --use-local-image` runs. */
export const LOCAL_DEV_IMAGE = 'localhost/stigmer/agent-runner:dev'

// Docker's reference grammar (distribution/reference), simplified to what engines accept.
const COMPONENT = /^[a-z\d]+(?:(?:[._]|__|-+)[a-z\d]+)*$/
const TAG = /^\w[\w.-]*$/
/** distribution/reference's limits: a tag is at most 128 characters, a name (registry/repository) at most 255. */
export const MAX_TAG_LENGTH = 128
export const MAX_NAME_LENGTH = 255
/** The digest algorithms engines accept (go-digest), and how many hex digits each has. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = {sha256: 64, sha384: 96, sha512: 128}
const DOMAIN =
  /^(?:[a-z\d](?:[a-z\d-]*[a-z\d])?)(?:\.[a-z\d](?:[a-z\d-]*[a-z\d])?)*(?::\d+)?$|^\[[a-f\d:]+\](?::\d+)?$/i

/** Input as it may be quoted back in a message: a long one is cut, with its length, never echoed whole. */
export function quoteInput(text: string, max = 80): string {
  return text.length <= max ? `"${text}"` : `"${text.slice(0, max - 20)}…" (${text.length} characters)`
}

function checkDigest(digest: string): string | undefined {
  const match = /^([a-z\d]+(?:[+._-][a-z\d]+)*):(.*)$/.exec(digest)
  if (!match) return 'a digest is <algorithm>:<hex>, e.g. sha256: and 64 hex digits'
  const [, algorithm, hex] = match as unknown as [string, string, string]
  const length = DIGEST_HEX_LENGTH[algorithm]
  if (length === undefined) return `unknown digest algorithm "${algorithm.slice(0, 20)}" (use sha256)`
  if (!/^[a-f\d]*$/.test(hex)) return `a ${algorithm} digest is lower-case hex digits (0-9, a-f)`
  if (hex.length !== length) return `a ${algorithm} digest has exactly ${length} hex digits, not ${hex.length}`
  return undefined
}

/** Parse an image reference the way Docker does. Throws a usage error saying what is wrong. */
export function parseImageRef(input: string): ImageRef {
  const raw = input.trim()
  if (raw === '') throw usageError('The image reference is empty.')
  const invalid = (why: string) => usageError(`${quoteInput(raw)} is not a valid image reference: ${why}.`)
  let rest = raw
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    const why = checkDigest(digest)
    if (why) throw invalid(why)
  }

  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (tag.length > MAX_TAG_LENGTH)
      throw invalid(`the tag has ${tag.length} characters; a tag has at most ${MAX_TAG_LENGTH}`)
    if (!TAG.test(tag))
      throw invalid(`bad tag ${quoteInput(tag, 40)} (letters, digits, _ . -; not starting with . or -)`)
  }

  if (rest.length > MAX_NAME_LENGTH)
    throw invalid(`the name has ${rest.length} characters; a name (registry/repository) has at most ${MAX_NAME_LENGTH}`)

  const parts = rest.split('/')
  let registry: string | undefined
  if (
    parts.length > 1 &&
    (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost' || parts[0]!.startsWith('['))
  ) {
    registry = parts.shift()
    if (!DOMAIN.test(registry!)) throw invalid(`bad registry ${quoteInput(registry!, 40)}`)
  }

  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw invalid(`${quoteInput(part, 40)} must be lower-case letters, digits and separators (. _ -)`)
    }
  }

  const repository = parts.join('/')
  return {digest, ref: formatRef({digest, registry, repository, tag}), registry, repository, tag}
}

export function formatRef(ref: {
  digest?: string | undefined
  registry?: string | undefined
  repository: string
  tag?: string | undefined
}): string {
  let out = ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository
  if (ref.tag) out += `:${ref.tag}`
  if (ref.digest) out += `@${ref.digest}`
  return out
}

/** The registry host a reference lives in; Docker Hub's is docker.io. */
export function registryOf(ref: ImageRef | string): string {
  const parsed = typeof ref === 'string' ? parseImageRef(ref) : ref
  return parsed.registry ?? 'docker.io'
}

/** repository without tag or digest, with its registry: ghcr.io/stigmer/agent-runner. */
export function nameOf(ref: ImageRef): string {
  return ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository
}

export function withTag(ref: ImageRef | string, tag: string): string {
  const parsed = typeof ref === 'string' ? parseImageRef(ref) : ref
  return formatRef({registry: parsed.registry, repository: parsed.repository, tag})
}

/** The image a CLI version expects: `<repository>:v<version>`. Never `latest`. */
export function pinnedImage(cliVersion: string, repository: string = DEFAULT_IMAGE_REPOSITORY): string {
  return `${repository}:v${cliVersion.replace(/^v/, '')}`
}

/** True when two references name the same image (docker.io/library/x == x). */
export function sameImage(a: string, b: string): boolean {
  const norm = (s: string): string => {
    const r = parseImageRef(s)
    const registry = r.registry ?? 'docker.io'
    const repository =
      registry === 'docker.io' && !r.repository.includes('/') ? `library/${r.repository}` : r.repository
    return formatRef({digest: r.digest, registry, repository, tag: r.tag ?? (r.digest ? undefined : 'latest')})
  }

  return norm(a) === norm(b)
}

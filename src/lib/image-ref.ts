import type {ImageRef} from '../adapters/types.js'

import {usageError} from './errors.js'

export const DEFAULT_IMAGE_REPOSITORY = 'ghcr.io/stigmer/agent-runner'
/** The tag `stigmer image build` gives the development image that `server start --use-local-image` runs. */
export const LOCAL_DEV_IMAGE = 'localhost/stigmer/agent-runner:dev'

// Docker's reference grammar (distribution/reference), simplified to what engines accept.
const COMPONENT = /^[a-z\d]+(?:(?:[._]|__|-+)[a-z\d]+)*$/
const TAG = /^\w[\w.-]{0,127}$/
const DIGEST = /^[a-z\d]+(?:[+._-][a-z\d]+)*:[a-f\d]{32,}$/i
const DOMAIN =
  /^(?:[a-z\d](?:[a-z\d-]*[a-z\d])?)(?:\.[a-z\d](?:[a-z\d-]*[a-z\d])?)*(?::\d+)?$|^\[[a-f\d:]+\](?::\d+)?$/i

/** Parse an image reference the way Docker does. Throws a usage error saying what is wrong. */
export function parseImageRef(input: string): ImageRef {
  const raw = input.trim()
  if (raw === '') throw usageError('The image reference is empty.')
  let rest = raw
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) throw usageError(`"${raw}" is not a valid image reference: bad digest "${digest}".`)
  }

  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) throw usageError(`"${raw}" is not a valid image reference: bad tag "${tag}".`)
  }

  const parts = rest.split('/')
  let registry: string | undefined
  if (
    parts.length > 1 &&
    (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost' || parts[0]!.startsWith('['))
  ) {
    registry = parts.shift()
    if (!DOMAIN.test(registry!))
      throw usageError(`"${raw}" is not a valid image reference: bad registry "${registry}".`)
  }

  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw usageError(
        `"${raw}" is not a valid image reference: "${part}" must be lower-case letters, digits and separators (. _ -).`,
      )
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

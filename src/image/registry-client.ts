import type {ImageRef, RegistryCredentials} from '../engine/types.js'

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

interface Descriptor {
  mediaType?: string
  digest: string
  size: number
  platform?: {architecture?: string; os?: string; variant?: string}
}

interface Manifest {
  mediaType?: string
  manifests?: Descriptor[]
  config?: Descriptor
  layers?: Descriptor[]
}

/** docker.io's API host and the library/ prefix for official images. */
function location(ref: ImageRef): {base: string; repository: string} {
  const registry = ref.registry ?? 'docker.io'
  const hub = registry === 'docker.io' || registry === 'index.docker.io'
  const host = hub ? 'registry-1.docker.io' : registry
  const repository = hub && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host)
  return {base: `${local ? 'http' : 'https'}://${host}`, repository}
}

function parseChallenge(header: string): {realm?: string; scheme: string; scope?: string; service?: string} {
  const [scheme = '', ...rest] = header.split(' ')
  const params: Record<string, string> = {}
  for (const match of rest.join(' ').matchAll(/(\w+)="([^"]*)"/g)) params[match[1]!] = match[2]!
  return {scheme: scheme.toLowerCase(), ...params}
}

/**
 * A tiny Docker Registry v2 client: just enough to read a manifest, so the
 * first-run message can say how big the download is (from the registry, not a guess).
 */
export class RegistryClient {
  private authorization: string | undefined

  constructor(
    private readonly ref: ImageRef,
    private readonly credentials: RegistryCredentials | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Compressed download size for a platform: config + layers. undefined when the registry cannot say. */
  async downloadSize(platform: {architecture: string; os: string; variant?: string}): Promise<number | undefined> {
    return (await this.download(platform))?.size
  }

  /**
   * The download for a platform: its compressed size (config + layers), and each layer's size by
   * the short id engines name layers with in their progress (the digest's first 12 hex digits).
   */
  async download(platform: {
    architecture: string
    os: string
    variant?: string
  }): Promise<undefined | {layers: Map<string, number>; size: number}> {
    let manifest = await this.manifest(this.ref.digest ?? this.ref.tag ?? 'latest')
    if (manifest.manifests) {
      const match =
        manifest.manifests.find(
          (m) =>
            m.platform?.os === platform.os &&
            m.platform?.architecture === platform.architecture &&
            (!platform.variant || m.platform?.variant === platform.variant),
        ) ??
        manifest.manifests.find(
          (m) => m.platform?.os === platform.os && m.platform?.architecture === platform.architecture,
        )
      if (!match) return undefined
      manifest = await this.manifest(match.digest)
    }

    if (!manifest.layers) return undefined
    const layers = new Map(manifest.layers.map((l) => [l.digest.replace(/^sha256:/, '').slice(0, 12), l.size]))
    return {layers, size: (manifest.config?.size ?? 0) + manifest.layers.reduce((sum, l) => sum + l.size, 0)}
  }

  private async get(url: string): Promise<Response> {
    const headers: Record<string, string> = {Accept: ACCEPT}
    if (this.authorization) headers.Authorization = this.authorization
    return fetch(url, {headers, ...(this.signal ? {signal: this.signal} : {})})
  }

  private async login(challenge: string): Promise<boolean> {
    const c = parseChallenge(challenge)
    const basic = this.credentials
      ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`
      : undefined
    if (c.scheme === 'basic') {
      if (!basic) return false
      this.authorization = basic
      return true
    }

    if (c.scheme !== 'bearer' || !c.realm) return false
    const url = new URL(c.realm)
    if (c.service) url.searchParams.set('service', c.service)
    url.searchParams.set('scope', c.scope ?? `repository:${location(this.ref).repository}:pull`)
    const response = await fetch(url, {
      headers: basic ? {Authorization: basic} : {},
      ...(this.signal ? {signal: this.signal} : {}),
    })
    if (!response.ok) return false
    const body = (await response.json()) as {access_token?: string; token?: string}
    const token = body.token ?? body.access_token
    if (!token) return false
    this.authorization = `Bearer ${token}`
    return true
  }

  /**
   * Every tag of the repository ([] when the registry does not know it yet),
   * following pagination. Throws when the registry refuses or answers oddly.
   */
  async tags(): Promise<string[]> {
    const {base, repository} = location(this.ref)
    let url: string | undefined = `${base}/v2/${repository}/tags/list?n=1000`
    const tags: string[] = []
    for (let page = 0; url && page < 50; page++) {
      const response: Response = await this.authorizedGet(url)
      if (response.status === 404) return tags
      if (!response.ok) throw new Error(`the registry answered HTTP ${response.status} to ${url}`)
      const body = (await response.json()) as {tags?: null | string[]}
      tags.push(...(body.tags ?? []))
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(response.headers.get('link') ?? '')
      url = next ? new URL(next[1]!, base).toString() : undefined
    }

    return tags
  }

  /** A GET that answers the registry's auth challenge once (basic, or a bearer token from its realm). */
  private async authorizedGet(url: string): Promise<Response> {
    const response = await this.get(url)
    if (response.status !== 401 || this.authorization) return response
    const challenge = response.headers.get('www-authenticate')
    return challenge && (await this.login(challenge)) ? this.get(url) : response
  }

  private async manifest(reference: string): Promise<Manifest> {
    const {base, repository} = location(this.ref)
    const response = await this.authorizedGet(`${base}/v2/${repository}/manifests/${reference}`)
    if (!response.ok) throw new Error(`registry answered HTTP ${response.status} for ${repository}:${reference}`)
    return (await response.json()) as Manifest
  }
}

/** The platform an engine pulls for, in registry terms. */
export function enginePlatform(os: string, arch: string): {architecture: string; os: string; variant?: string} {
  // eslint-disable-next-line camelcase -- architecture names as engines report them
  const map: Record<string, string> = {aarch64: 'arm64', arm64: 'arm64', x64: 'amd64', x86_64: 'amd64'}
  return {architecture: map[arch] ?? arch, os: os || 'linux'}
}

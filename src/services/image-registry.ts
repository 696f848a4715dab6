import type {RegistryCredentials} from '../adapters/types.js'

import {parseImageRef} from '../lib/image-ref.js'

/**
 * Reads a repository's tag list from its registry (GET /v2/<name>/tags/list),
 * so `image push` never moves a floating tag (v1, latest) back to an older
 * release. Speaks the registry's own auth: basic, or a bearer token from the
 * realm it names (ghcr.io, Docker Hub). Loopback registries are plain HTTP,
 * as engines treat them.
 */
export type TagListResult = {ok: false; reason: string} | {ok: true; tags: string[]}

function location(repository: string): {base: string; name: string} {
  const ref = parseImageRef(repository)
  const registry = ref.registry ?? 'docker.io'
  const hub = registry === 'docker.io' || registry === 'index.docker.io'
  const host = hub ? 'registry-1.docker.io' : registry
  const name = hub && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host)
  return {base: `${local ? 'http' : 'https'}://${host}`, name}
}

async function authorize(
  challenge: string,
  name: string,
  credentials: RegistryCredentials | undefined,
  signal: AbortSignal,
): Promise<string | undefined> {
  const [scheme = '', ...rest] = challenge.split(' ')
  const params: Record<string, string> = {}
  for (const match of rest.join(' ').matchAll(/(\w+)="([^"]*)"/g)) params[match[1]!] = match[2]!
  const basic = credentials
    ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
    : undefined
  if (scheme.toLowerCase() === 'basic') return basic
  if (scheme.toLowerCase() !== 'bearer' || !params.realm) return undefined
  const url = new URL(params.realm)
  if (params.service) url.searchParams.set('service', params.service)
  url.searchParams.set('scope', `repository:${name}:pull`)
  const response = await fetch(url, {headers: basic ? {Authorization: basic} : {}, signal})
  if (!response.ok) return undefined
  const body = (await response.json()) as {access_token?: string; token?: string}
  const token = body.token ?? body.access_token
  return token ? `Bearer ${token}` : undefined
}

/** All tags of a repository ([] when the registry does not know it yet), following pagination. */
export async function listRepositoryTags(
  repository: string,
  credentials: RegistryCredentials | undefined,
  options: {signal?: AbortSignal | undefined; timeoutMs?: number} = {},
): Promise<TagListResult> {
  const {base, name} = location(repository)
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000)
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
  let authorization: string | undefined
  let url: string | undefined = `${base}/v2/${name}/tags/list?n=1000`
  const tags: string[] = []
  try {
    for (let page = 0; url && page < 50; page++) {
      let response: Response = await fetch(url, {headers: authorization ? {Authorization: authorization} : {}, signal})
      if (response.status === 401 && !authorization) {
        const challenge = response.headers.get('www-authenticate')
        authorization = challenge ? await authorize(challenge, name, credentials, signal) : undefined
        if (authorization) response = await fetch(url, {headers: {Authorization: authorization}, signal})
      }

      if (response.status === 404) return {ok: true, tags}
      if (!response.ok) return {ok: false, reason: `the registry answered HTTP ${response.status} to ${url}`}
      const body = (await response.json()) as {tags?: null | string[]}
      tags.push(...(body.tags ?? []))
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(response.headers.get('link') ?? '')
      url = next ? new URL(next[1]!, base).toString() : undefined
    }

    return {ok: true, tags}
  } catch (error) {
    return {ok: false, reason: (error as Error).message}
  }
}

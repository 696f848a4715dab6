import type {RegistryCredentials} from '../engine/types.js'

import {parseImageRef} from '../lib/image-ref.js'
import {RegistryClient} from './registry-client.js'

/**
 * Reads a repository's tag list from its registry (GET /v2/<name>/tags/list),
 * so `image push` never moves a floating tag (v1, latest) back to an older
 * release. The registry protocol (auth challenges, loopback over plain HTTP)
 * is RegistryClient's.
 */
export type TagListResult = {ok: false; reason: string} | {ok: true; tags: string[]}

/** All tags of a repository ([] when the registry does not know it yet), following pagination. */
export async function listRepositoryTags(
  repository: string,
  credentials: RegistryCredentials | undefined,
  options: {signal?: AbortSignal | undefined; timeoutMs?: number} = {},
): Promise<TagListResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000)
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
  try {
    return {ok: true, tags: await new RegistryClient(parseImageRef(repository), credentials, signal).tags()}
  } catch (error) {
    return {ok: false, reason: (error as Error).message}
  }
}

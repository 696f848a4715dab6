import type {StigmerConfig} from '../lib/config.js'

import {DEFAULT_IMAGE_REPOSITORY, LOCAL_DEV_IMAGE, parseImageRef, pinnedImage} from '../lib/image-ref.js'

export type ImageSource = '--image' | '--use-local-image' | 'config file' | 'pinned' | 'STIGMER_AGENT_RUNNER_IMAGE'

export interface ResolvedImage {
  /** The reference to run. */
  readonly ref: string
  readonly source: ImageSource
  /** What this CLI version pins (shown when something else overrides it). */
  readonly pinned: string
  /** True when ref is the CLI's pinned image. */
  readonly isPinned: boolean
}

export interface ImageChoice {
  readonly useLocalImage?: boolean | undefined
  readonly imageFlag?: string | undefined
  readonly env?: NodeJS.ProcessEnv
  readonly config?: StigmerConfig
  readonly cliVersion: string
}

/**
 * Which agent-runner image to use. Order: --use-local-image, --image,
 * STIGMER_AGENT_RUNNER_IMAGE, the config file, else the image pinned to this CLI
 * version. Never `latest`.
 */
export function resolveImage(choice: ImageChoice): ResolvedImage {
  const env = choice.env ?? process.env
  const pinned = pinnedImage(choice.cliVersion, DEFAULT_IMAGE_REPOSITORY)
  const pick = (ref: string, source: ImageSource): ResolvedImage => {
    const parsed = parseImageRef(ref).ref
    return {isPinned: parsed === pinned, pinned, ref: parsed, source}
  }

  if (choice.useLocalImage) return pick(LOCAL_DEV_IMAGE, '--use-local-image')
  if (choice.imageFlag) return pick(choice.imageFlag, '--image')
  if (env.STIGMER_AGENT_RUNNER_IMAGE && env.STIGMER_AGENT_RUNNER_IMAGE.trim() !== '') {
    return pick(env.STIGMER_AGENT_RUNNER_IMAGE, 'STIGMER_AGENT_RUNNER_IMAGE')
  }

  if (choice.config?.image) return pick(choice.config.image, 'config file')
  return pick(pinned, 'pinned')
}

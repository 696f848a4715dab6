import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {DEFAULT_PULL_RETRIES, DEFAULT_PULL_TIMEOUT_SECONDS, pullImage, type PullOutcome} from '../../image/pull.js'
import {resolveImage} from '../../image/resolution.js'
import {parseReleaseVersion} from '../../image/tags.js'
import {loadConfig} from '../../lib/config.js'
import {usageError} from '../../lib/errors.js'
import {runtimeFlag} from '../../lib/flags.js'
import {formatBytes, parseDurationSeconds} from '../../lib/format.js'
import {DEFAULT_IMAGE_REPOSITORY, parseImageRef, pinnedImage} from '../../lib/image-ref.js'
import {stigmerPaths} from '../../lib/paths.js'
import {taskReporter} from '../../ui/pull-reporter.js'
import {taskUiFor, type TaskUi} from '../../ui/tasks.js'

export interface ImagePullResult extends PullOutcome {
  /** Where the reference came from: --image, --version, STIGMER_AGENT_RUNNER_IMAGE, config file, pinned. */
  readonly source: string
  readonly runtime: string
}

export default class ImagePull extends StigmerCommand {
  static override description = `Pulls the agent-runner image with the same progress bar, size estimate (from the registry's manifest), timeout and retries as the first-run pull of "stigmer server start" (one implementation).

Which image: --image REF; else --version X.Y.Z (${DEFAULT_IMAGE_REPOSITORY}:vX.Y.Z); else the one "server start" would run: STIGMER_AGENT_RUNNER_IMAGE, "image" in ~/.stigmer/config.yaml, or the image pinned to this CLI version. --json reports the digest and the download size.`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Pull the image this CLI version pins.'},
    '<%= config.bin %> <%= command.id %> --version 1.4.0',
    '<%= config.bin %> <%= command.id %> --image registry.example.com/mirror/agent-runner:v1.4.0 --pull-timeout 15m --json',
  ]
  static override flags = {
    image: Flags.string({description: 'Image reference to pull.', exclusive: ['version']}),
    'pull-timeout': Flags.string({
      description: `Give up after this long, retries included (default ${DEFAULT_PULL_TIMEOUT_SECONDS / 60}m, or pullTimeoutSeconds in the config file).`,
    }),
    retries: Flags.integer({
      description: `Retries on network errors and rate limits (default ${DEFAULT_PULL_RETRIES}).`,
      max: 10,
      min: 0,
    }),
    runtime: runtimeFlag,
    version: Flags.string({description: `Pull ${DEFAULT_IMAGE_REPOSITORY}:v<version>.`, exclusive: ['image']}),
  }
  static override needsRuntime = true
  static override summary = 'Pull the agent-runner image (the pinned one, a --version, or --image).'
  private ui: TaskUi | undefined

  async run(): Promise<ImagePullResult> {
    const {flags} = await this.parse(ImagePull)
    const config = await loadConfig(stigmerPaths().configFile)
    let ref: string
    let source: string
    if (flags.image) {
      ref = parseImageRef(flags.image).ref
      source = '--image'
    } else if (flags.version) {
      ref = pinnedImage(parseReleaseVersion(flags.version).version, DEFAULT_IMAGE_REPOSITORY)
      source = '--version'
    } else {
      const resolved = resolveImage({cliVersion: this.config.version, config, env: process.env})
      ref = resolved.ref
      source = resolved.source
    }

    let timeoutSeconds = config.pullTimeoutSeconds ?? DEFAULT_PULL_TIMEOUT_SECONDS
    if (flags['pull-timeout'] !== undefined) {
      const parsed = parseDurationSeconds(flags['pull-timeout'])
      if (parsed === undefined || parsed <= 0)
        throw usageError(`--pull-timeout "${flags['pull-timeout']}" is not a duration.`, [
          'Use seconds (600) or a duration (90s, 15m).',
        ])
      timeoutSeconds = parsed
    }

    const {runtime} = await this.runtime(flags.runtime)
    this.ui = taskUiFor({json: this.jsonEnabled()})
    this.ui.start(`Pull ${ref}`)
    const outcome = await pullImage(runtime, ref, {
      reporter: taskReporter(this.ui),
      retries: flags.retries,
      signal: this.signal,
      timeoutMs: timeoutSeconds * 1000,
    })
    this.ui.succeed(outcome.sizeBytes ? formatBytes(outcome.sizeBytes) : undefined)
    await this.ui.stop()
    const size = outcome.sizeBytes ? `, ${formatBytes(outcome.sizeBytes)} download` : ''
    this.log(
      `Pulled ${outcome.ref}${outcome.digest ? `@${outcome.digest}` : ''} (image ${outcome.id.replace(/^sha256:/, '').slice(0, 12)}, ${formatBytes(outcome.imageSizeBytes)} on disk${size}).`,
    )
    return {...outcome, runtime: runtime.name, source}
  }

  protected override async stopProgress(): Promise<void> {
    await this.ui?.stop()
  }
}

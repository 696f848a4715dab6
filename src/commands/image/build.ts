import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {runtimeFlag} from '../../lib/flags.js'
import {formatBytes} from '../../lib/format.js'
import {buildViewFor, type BuildView} from '../../services/image-build-view.js'
import {buildImage, type BuildOutcome, planBuild} from '../../services/image-build.js'

export default class ImageBuild extends StigmerCommand {
  static override description = `Builds the agent-runner image from an agent-runner project (a Poetry project: pyproject.toml and poetry.lock) and tags it as the development image that "stigmer server start --use-local-image" runs: localhost/stigmer/agent-runner:dev, plus localhost/stigmer/agent-runner:dev-<commit> when --source is a git checkout and localhost/stigmer/agent-runner:v<version> with --version.

Dockerfile: --file when given, else the project's own Dockerfile when it has one, else the Dockerfile that ships with this CLI (docker/Dockerfile; see docs/docker.md).

Build context: a copy of --source without what the ignore files exclude: <Dockerfile>.dockerignore beside the Dockerfile (the CLI's docker/Dockerfile.dockerignore for its own Dockerfile), then the project's .dockerignore (its "!" lines win). Docker's .dockerignore rules apply exactly. The copy is removed afterwards, also on failure and Ctrl-C.

Build args: VERSION (from --version), REVISION (the full git commit), CREATED (now, or SOURCE_DATE_EPOCH) and SOURCE (the origin remote) are passed for the OCI labels; --build-arg adds or overrides any other (BASE_IMAGE to use a mirror or an offline stand-in of python:3.11-slim).

Platforms: one --platform builds for it; several (linux/amd64,linux/arm64) build a manifest list: natively with Podman; Docker needs the buildx plugin and says so. Podman builds keep the HEALTHCHECK (Docker image format).

Output: on a terminal, the step in progress and its last output lines; otherwise every step and line on stderr; --json prints one result (tags, image id, platforms, sizes).

Exit codes: 0 built; 2 usage (bad --version, --build-arg, --platform, --tag, missing --source or --file); 10/11/12 no engine / not running / no permission; 22 the build failed: the failing step, its instruction and its last output lines are shown; 130 interrupted.`
  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --source ../agent-runner',
      description: 'Build the development image from a checkout of the agent-runner.',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --source ../agent-runner --version 1.4.0',
      description: 'Stamp a release version (label, build arg, and a v1.4.0 tag).',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --build-arg BASE_IMAGE=mirror.example.com/python:3.11-slim',
      description: 'Use a mirror of the base image.',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --runtime podman --platform linux/amd64,linux/arm64',
      description: 'A multi-arch manifest list (Podman).',
    },
    '<%= config.bin %> <%= command.id %> --json',
  ]
  static override flags = {
    'build-arg': Flags.string({
      description: "NAME=value for an ARG of the Dockerfile (NAME alone takes your environment's value). Repeatable.",
      multiple: true,
    }),
    file: Flags.string({
      char: 'f',
      description: "Dockerfile to use. Default: the project's own Dockerfile, else the one shipped with the CLI.",
    }),
    'no-cache': Flags.boolean({description: 'Do not use cached layers.'}),
    platform: Flags.string({
      description: 'Target platform(s), e.g. linux/arm64; several (comma-separated or repeated) build a manifest list.',
      multiple: true,
    }),
    runtime: runtimeFlag,
    source: Flags.string({default: '.', description: 'The agent-runner project folder.'}),
    tag: Flags.string({char: 't', description: 'An extra tag (name:tag). Repeatable.', multiple: true}),
    version: Flags.string({
      description:
        'Release version X.Y.Z[-pre] to stamp: the org.opencontainers.image.version label and a v<version> tag.',
    }),
  }
  static override needsRuntime = true
  static override summary = 'Build the agent-runner image and tag it as the local development image.'
  private view: BuildView | undefined

  async run(): Promise<BuildOutcome> {
    const {flags} = await this.parse(ImageBuild)
    const plan = await planBuild({
      buildArgs: flags['build-arg'],
      cliRoot: this.config.root,
      file: flags.file,
      noCache: flags['no-cache'],
      platforms: flags.platform,
      sourceDir: flags.source,
      tags: flags.tag,
      version: flags.version,
    })
    const {runtime} = await this.runtime(flags.runtime)
    const platforms = plan.platforms.length > 0 ? ` for ${plan.platforms.join(', ')}` : ''
    this.note(
      `Building ${plan.tags[0]} with ${runtime.displayName}${platforms} from ${plan.sourceDir} (Dockerfile: ${plan.dockerfile})`,
    )
    this.view = buildViewFor({json: this.jsonEnabled()})
    const {view} = this
    let outcome: BuildOutcome
    try {
      outcome = await buildImage(runtime, plan, {onEvent: (event) => view.event(event), signal: this.signal})
      view.finish(true)
    } catch (error) {
      view.finish(false)
      throw error
    }

    const size = Object.entries(outcome.sizes)
      .map(([platform, bytes]) => `${formatBytes(bytes)} (${platform})`)
      .join(', ')
    this.log(
      `Built ${outcome.manifestList ? `manifest list for ${outcome.platforms.join(', ')}` : 'image'} ${outcome.id.replace(/^sha256:/, '').slice(0, 12)}${size ? `, ${size}` : ''} in ${(outcome.durationMs / 1000).toFixed(1)}s`,
    )
    for (const tag of outcome.tags) this.log(`  ${tag}`)
    this.log('Run it with: stigmer server start --use-local-image')
    return outcome
  }

  protected override stopProgress(): void {
    this.view?.stop()
  }
}

import * as Flags from '@oclif/core/flags'
import {join} from 'node:path'

import {StigmerCommand} from '../../base-command.js'
import {
  buildImage,
  type BuildOutcome,
  type BuildPlan,
  describeProject,
  planBuild,
  stageContextFor,
} from '../../image/build.js'
import {runtimeFlag} from '../../lib/flags.js'
import {formatBytes} from '../../lib/format.js'
import {buildViewFor, type BuildView} from '../../ui/build-view.js'

/** What --stage-to prints (--json): where the context is and how to build it. */
export interface StagedBuild {
  readonly contextDir: string
  readonly dockerfile: string
  readonly buildArgs: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly tags: readonly string[]
  readonly entrypoint: {command: string; reason: string}
}

export default class ImageBuild extends StigmerCommand {
  static override description = `Builds the agent-runner image from the agent-runner project (backend/services/agent-runner in a checkout of stigmer/stigmer, or any project of the same shape) and tags it as the development image that "stigmer server start --use-local-image" runs: localhost/stigmer/agent-runner:dev, plus localhost/stigmer/agent-runner:dev-<commit> when --source is a git checkout and localhost/stigmer/agent-runner:v<version> with --version.

The project is read before anything is built (exit 2, nothing built, when it does not fit):
- pyproject.toml must be in --source.
- Installer: Poetry for a Poetry project ([tool.poetry]; Poetry 1.x or 2.x); for PEP 621 [project] metadata, uv with uv.lock (uv sync --frozen --no-dev; pip when uv cannot be had), Poetry 2 with poetry.lock, else pip.
- Entry point, in this order: --entrypoint; the one console script in [project.scripts] or [tool.poetry.scripts]; main.py at the project root; a package with __main__.py. It is printed, recorded in the label io.stigmer.entrypoint, and run by the image's ENTRYPOINT.
- Path dependencies (Poetry {path = ...}, PEP 508 file: URLs, [tool.uv.sources] paths) outside --source are staged beside it at the same relative places, so the lock resolves; never the whole repository. One that does not exist, or leaves the repository (the nearest folder above with .git), is refused.

Dockerfile: --file when given, else the Dockerfile that ships with this CLI (docker/Dockerfile; see docs/docker.md). A Dockerfile in the project is not used unless named with --file.

Build context: a copy of --source (and of each path dependency) without what the ignore files exclude: <Dockerfile>.dockerignore beside the Dockerfile (the CLI's docker/Dockerfile.dockerignore for its own Dockerfile: no .env, tests, docs or VCS folders), then the folder's own .dockerignore (its "!" lines win). Docker's .dockerignore rules apply exactly. The copy is removed afterwards, also on failure and Ctrl-C.

Build args: VERSION (from --version), REVISION (the full git commit of --source), CREATED (now, or SOURCE_DATE_EPOCH) and SOURCE (its origin remote) are passed for the OCI labels; APP_DIR, INSTALLER, PATH_DEPS and RUNNER_COMMAND describe the project (INSTALLER may be overridden); --build-arg adds or overrides any other (BASE_IMAGE to use a mirror or an offline stand-in of python:3.11-slim).

Platforms: one --platform builds for it; several (linux/amd64,linux/arm64) build a manifest list: natively with Podman; Docker needs the buildx plugin and says so. Podman builds keep the HEALTHCHECK (Docker image format).

Output: on a terminal, the step in progress and its last output lines; otherwise every step and line on stderr; --json prints one result (tags, image id, platforms, sizes, entry point, installer, path dependencies).`
  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --source ../stigmer/backend/services/agent-runner',
      description: 'Build the development image from a checkout of stigmer/stigmer.',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> --source ../stigmer/backend/services/agent-runner --entrypoint main.py',
      description: 'Name the entry point instead of letting stigmer find it.',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --source ../stigmer/backend/services/agent-runner --version 1.4.0',
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
    entrypoint: Flags.string({
      description:
        'The entry point: script:NAME (a console script), module:PACKAGE (python -m), or file:PATH.py / PATH.py (relative to --source). Default: found in the project.',
    }),
    'build-arg': Flags.string({
      description: "NAME=value for an ARG of the Dockerfile (NAME alone takes your environment's value). Repeatable.",
      multiple: true,
    }),
    file: Flags.string({
      char: 'f',
      description: 'Dockerfile to use. Default: the one shipped with the CLI (docker/Dockerfile).',
    }),
    'no-cache': Flags.boolean({description: 'Do not use cached layers.'}),
    'stage-to': Flags.string({
      description:
        'Build nothing: stage the build context into this new folder (the Dockerfile is .stigmer.Dockerfile in it) and print the build arguments and labels, for another builder (docker buildx in CI) to build exactly what image build would.',
    }),
    platform: Flags.string({
      description: 'Target platform(s), e.g. linux/arm64; several (comma-separated or repeated) build a manifest list.',
      multiple: true,
    }),
    runtime: runtimeFlag,
    source: Flags.string({
      default: '.',
      description: 'The agent-runner folder (the one with pyproject.toml), e.g. backend/services/agent-runner.',
    }),
    tag: Flags.string({char: 't', description: 'An extra tag (name:tag). Repeatable.', multiple: true}),
    version: Flags.string({
      description:
        'Release version X.Y.Z[-pre] to stamp: the org.opencontainers.image.version label and a v<version> tag.',
    }),
  }
  static override needsRuntime = true
  static override summary = 'Build the agent-runner image and tag it as the local development image.'
  private view: BuildView | undefined

  async run(): Promise<BuildOutcome | StagedBuild> {
    const {flags} = await this.parse(ImageBuild)
    const plan = await planBuild({
      buildArgs: flags['build-arg'],
      cliRoot: this.config.root,
      entrypoint: flags.entrypoint,
      file: flags.file,
      noCache: flags['no-cache'],
      platforms: flags.platform,
      sourceDir: flags.source,
      tags: flags.tag,
      version: flags.version,
    })
    if (flags['stage-to']) return this.stageOnly(plan, flags['stage-to'])
    const {runtime} = await this.runtime(flags.runtime)
    const platforms = plan.platforms.length > 0 ? ` for ${plan.platforms.join(', ')}` : ''
    this.note(
      `Building ${plan.tags[0]} with ${runtime.displayName}${platforms} from ${plan.sourceDir} (Dockerfile: ${plan.dockerfile})`,
    )
    for (const line of describeProject(plan)) this.note(line)
    this.view = buildViewFor({json: this.jsonEnabled()})
    const {view} = this
    let outcome: BuildOutcome
    try {
      outcome = await buildImage(runtime, plan, {onEvent: (event) => view.event(event), signal: this.signal})
      await view.finish(true)
    } catch (error) {
      await view.finish(false)
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

  /** --stage-to: the context and the arguments, no engine. */
  private async stageOnly(plan: BuildPlan, into: string): Promise<StagedBuild> {
    for (const line of describeProject(plan)) this.note(line)
    const staged = await stageContextFor(plan, this.signal, into)
    staged.keep()
    this.log(`Staged the build context in ${staged.dir} (${staged.files} files, ${formatBytes(staged.bytes)}).`)
    this.log(`Dockerfile: ${join(staged.dir, staged.dockerfile)}`)
    for (const [name, value] of Object.entries(plan.buildArgs)) this.log(`  --build-arg ${name}=${value}`)
    return {
      buildArgs: plan.buildArgs,
      contextDir: staged.dir,
      dockerfile: join(staged.dir, staged.dockerfile),
      entrypoint: {command: plan.buildArgs.RUNNER_COMMAND ?? '', reason: plan.project.entry.reason},
      labels: plan.labels,
      tags: plan.tags,
    }
  }

  protected override async stopProgress(): Promise<void> {
    await this.view?.stop()
  }
}

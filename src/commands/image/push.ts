import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {
  dryRunOutcome,
  type PushEvent,
  pushImage,
  type PushOutcome,
  planImagePush,
  validatePushFlags,
} from '../../image/push.js'
import {loadConfig} from '../../lib/config.js'
import {runtimeFlag} from '../../lib/flags.js'
import {DEFAULT_IMAGE_REPOSITORY, LOCAL_DEV_IMAGE} from '../../lib/image-ref.js'
import {stigmerPaths} from '../../lib/paths.js'
import {progressLine} from '../../ui/pull-reporter.js'
import {taskUiFor, type TaskUi} from '../../ui/tasks.js'

export default class ImagePush extends StigmerCommand {
  static override description = `Pushes the development image that "stigmer image build" made (${LOCAL_DEV_IMAGE}), or --image REF, to --repository (default: "repository" in ~/.stigmer/config.yaml, else ${DEFAULT_IMAGE_REPOSITORY}).

Tags:
  --version 1.2.3       v1.2.3, v1.2, v1 and latest (a 0.x release gets no v0 tag); a floating tag
                        (v1.2, v1, latest) moves only when the repository has no newer release:
                        a 1.1.5 patch pushed after 1.2.0 gets v1.1.5 and v1.1, while v1 and latest stay
  --version 1.3.0-rc.1  only v1.3.0-rc.1: a pre-release never moves v1.3, v1 or latest
  no --version          dev-<commit>: the first 7 digits of the image's org.opencontainers.image.revision label (or of --source's git HEAD)
Versions are semantic versions (semver), validated before anything is pushed. --dry-run lists what would be pushed where and pushes nothing. Tags are pushed most specific first, latest last; the local tags the push needs are removed afterwards. A manifest list (a multi-platform Podman build) is pushed with all its platforms.

Credentials: those the engine already has (Docker's config.json and credential helpers, Podman's auth.json); "stigmer image login" stores them.`
  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --version 1.4.0 --dry-run',
      description: 'See which tags a release would get, and where.',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --version 1.4.0',
      description: 'Push a release: v1.4.0, v1.4, v1, latest.',
    },
    {command: '<%= config.bin %> <%= command.id %>', description: 'Push a development build as dev-<commit>.'},
    '<%= config.bin %> <%= command.id %> --repository registry.example.com/team/agent-runner --version 1.4.0-rc.2 --json',
  ]
  static override flags = {
    'dry-run': Flags.boolean({description: 'List what would be pushed where; push nothing.'}),
    image: Flags.string({description: `Local image to push (default ${LOCAL_DEV_IMAGE}).`}),
    repository: Flags.string({
      description: `Where to push: registry/name, no tag (default: config file, else ${DEFAULT_IMAGE_REPOSITORY}).`,
    }),
    runtime: runtimeFlag,
    source: Flags.string({
      description:
        'The git checkout the image was built from, to name a development push when the image has no revision label.',
    }),
    version: Flags.string({
      description: 'Release version X.Y.Z[-pre]: pushes the release tags. Without it: dev-<commit>.',
    }),
  }
  static override needsRuntime = true
  static override summary = 'Push the agent-runner image under its semver (or dev-<commit>) tags.'
  private ui: TaskUi | undefined

  async run(): Promise<PushOutcome> {
    const {flags} = await this.parse(ImagePush)
    const config = await loadConfig(stigmerPaths().configFile)
    const request = {
      configRepository: config.repository,
      image: flags.image,
      repository: flags.repository,
      sourceDir: flags.source,
      version: flags.version,
    }
    validatePushFlags(request)
    const {runtime} = await this.runtime(flags.runtime)
    const plan = await planImagePush(runtime, request, {signal: this.signal})
    if (plan.warning) this.note(`Warning: ${plan.warning}`)
    const held = plan.held.map((h) => `${h.tag} stays on ${h.newer}, a newer release already in ${plan.repository}`)
    const what =
      plan.kind === 'development'
        ? `development build (commit ${plan.revision?.slice(0, 12)}, from ${plan.revisionFrom === 'label' ? 'its revision label' : '--source'})`
        : `${plan.kind} ${plan.version}`
    if (flags['dry-run']) {
      this.log(
        `Dry run: would push ${plan.source}${plan.manifestList ? ' (manifest list, all platforms)' : ''}, ${what}, as:`,
      )
      for (const target of plan.targets) this.log(`  ${target.ref}`)
      for (const line of held) this.log(`  (${line})`)
      this.log(
        `with ${runtime.displayName}, as ${plan.username ? `user ${plan.username}` : 'no stored user (anonymous)'} at ${plan.registry}. Nothing was pushed.`,
      )
      return dryRunOutcome(runtime, plan)
    }

    this.note(
      `Pushing ${plan.source}, ${what}, to ${plan.repository} (${plan.targets.map((t) => t.tag).join(', ')})${plan.username ? ` as ${plan.username}` : ''}`,
    )
    this.ui = taskUiFor({json: this.jsonEnabled()})
    const {ui} = this
    const onEvent = (event: PushEvent) => {
      if (event.kind === 'start') ui.start(`Pushing ${event.ref}`)
      else if (event.kind === 'done') ui.succeed(event.digest ? event.digest.slice(0, 19) : undefined)
      else if (event.stats.layersTotal > 0)
        ui.output(`${event.stats.layersDone}/${event.stats.layersTotal} layers  ${progressLine(event.stats)}`)
      else if (event.text) ui.output(event.text)
    }

    let outcome: PushOutcome
    try {
      outcome = await pushImage(runtime, plan, {onEvent, signal: this.signal})
    } catch (error) {
      ui.fail()
      throw error
    }

    await ui.stop()

    this.log(
      `Pushed ${outcome.pushed.length} tag${outcome.pushed.length === 1 ? '' : 's'} to ${outcome.repository}${outcome.digest ? ` (${outcome.digest})` : ''}:`,
    )
    for (const tag of outcome.tags) this.log(`  ${outcome.repository}:${tag}`)
    for (const line of held) this.log(`  (${line})`)
    if (outcome.digest)
      this.log(`Pull it by digest: stigmer image pull --image ${outcome.repository}@${outcome.digest}`)
    return outcome
  }

  protected override async stopProgress(): Promise<void> {
    await this.ui?.stop()
  }
}

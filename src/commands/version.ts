import {StigmerCommand} from '../base-command.js'
import {chooseEngine} from '../engine/choose.js'
import {probeVersion} from '../engine/detection/probe.js'
import {resolveImage} from '../image/resolution.js'
import {loadConfig, type StigmerConfig} from '../lib/config.js'
import {stigmerPaths} from '../lib/paths.js'

export interface VersionResult {
  cli: string
  image: {expected: string; pinned: string; source: string; override?: string}
  node: string
  platform: string
  arch: string
  engine: {runtime: string; product: string; version: string; apiVersion: string; endpoint: string} | null
}

export default class Version extends StigmerCommand {
  static override description = `Shows the CLI version, the agent-runner image it expects (pinned to this CLI version: ghcr.io/stigmer/agent-runner:v<version>, or STIGMER_AGENT_RUNNER_IMAGE when set), the Node.js version and platform, and the container engine stigmer would use (chosen as every command chooses it: STIGMER_CONTAINER_RUNTIME, runtime: in the config file, DOCKER_HOST, otherwise Docker, then Podman, then the engines plugins add), if it answers within a second (version never waits longer, and never starts an engine; stigmer doctor explains a missing one).`
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override summary = 'Show the CLI version and the agent-runner image it expects.'

  async run(): Promise<VersionResult> {
    await this.parse(Version)
    const cli = this.config.version
    const {env} = process
    const paths = stigmerPaths(env)
    const config = await loadConfig(paths.configFile)
    const image = resolveImage({cliVersion: cli, config, env})
    const engine = await this.quickEngine(env, config)
    const result: VersionResult = {
      arch: process.arch,
      cli,
      engine,
      image: {
        expected: image.ref,
        pinned: image.pinned,
        source: image.source,
        ...(image.source === 'pinned' ? {} : {override: `${image.source}=${image.ref}`}),
      },
      node: process.version,
      platform: process.platform,
    }
    this.log(`stigmer ${cli}`)
    this.log(
      `agent-runner image: ${image.ref}${image.source === 'pinned' ? ' (pinned to this CLI version)' : ` (from ${image.source}; this CLI pins ${image.pinned})`}`,
    )
    this.log(`node ${process.version} ${process.platform}-${process.arch}`)
    this.log(
      engine
        ? `engine: ${engine.product} ${engine.version} (API ${engine.apiVersion}) at ${engine.endpoint}`
        : 'engine: none answered (run `stigmer doctor` for details)',
    )
    return result
  }

  /**
   * The engine stigmer would use (the one decision every command makes, chooseEngine: the
   * env/config equivalents of --runtime, DOCKER_HOST, plugin runtimes), asked for /version
   * without loading an engine client, starting one, or waiting more than a second.
   */
  private async quickEngine(env: NodeJS.ProcessEnv, config: StigmerConfig): Promise<VersionResult['engine']> {
    try {
      const {
        detection: {chosen},
        provider,
      } = await chooseEngine({allowSpawn: false, config: this.config, env, stigmerConfig: config, timeoutMs: 1000})
      if (!chosen || !provider) return null
      const v = await probeVersion(chosen.candidate.endpoint, 1000)
      if (!v) return null
      return {
        apiVersion: v.apiVersion,
        endpoint: chosen.candidate.endpoint.url,
        product: v.product,
        runtime: provider.name,
        version: v.version,
      }
    } catch {
      return null // a malformed DOCKER_HOST, an unknown runtime name: `doctor` explains them
    }
  }
}

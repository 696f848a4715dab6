import {StigmerCommand} from '../base-command.js'
import {currentMachine} from '../detection/machine.js'
import {probeVersion} from '../detection/probe.js'
import {loadConfig} from '../lib/config.js'
import {stigmerPaths} from '../lib/paths.js'
import {BUILTIN_PROVIDERS} from '../runtimes.js'
import {resolveImage} from '../services/image-resolution.js'

export interface VersionResult {
  cli: string
  image: {expected: string; pinned: string; source: string; override?: string}
  node: string
  platform: string
  arch: string
  engine: {runtime: string; product: string; version: string; apiVersion: string; endpoint: string} | null
}

export default class Version extends StigmerCommand {
  static override description = `Shows the CLI version, the agent-runner image it expects (pinned to this CLI version: ghcr.io/stigmer/agent-runner:v<version>, or STIGMER_AGENT_RUNNER_IMAGE when set), the Node.js version and platform, and the container engine that answers, if one answers within a second (it never waits longer, and never starts an engine).`
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override summary = 'Show the CLI version and the agent-runner image it expects.'

  async run(): Promise<VersionResult> {
    await this.parse(Version)
    const cli = this.config.version
    const {env} = process
    const config = await loadConfig(stigmerPaths(env).configFile)
    const image = resolveImage({cliVersion: cli, config, env})
    const engine = await this.quickEngine()
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

  /** The first engine socket that answers /version within a second, without loading an engine client. */
  private async quickEngine(): Promise<VersionResult['engine']> {
    const machine = currentMachine()
    const ctx = {machine, runDir: stigmerPaths().runDir}
    for (const provider of BUILTIN_PROVIDERS) {
      let candidates
      try {
        candidates = provider.strategies(ctx).flatMap((s) => s.candidates(machine))
      } catch {
        continue // a malformed DOCKER_HOST: `doctor` explains it
      }

      for (const candidate of candidates) {
        if (candidate.spawnable) continue
        const v = await probeVersion(candidate.endpoint, 1000)
        if (v) {
          return {
            apiVersion: v.apiVersion,
            endpoint: candidate.endpoint.url,
            product: v.product,
            runtime: /podman/i.test(v.product) ? 'podman' : provider.name,
            version: v.version,
          }
        }
      }
    }

    return null
  }
}

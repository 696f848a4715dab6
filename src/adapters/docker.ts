import {existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'

import type {BuildOptions, BuildResult, RegistryCredentials} from './types.js'

import {which} from '../detection/machine.js'
import {EngineApiRuntime} from './engine-api.js'
import {RuntimeError} from './errors.js'
import {dockerConfigPath, registryKeys} from './registry-auth.js'

/** Docker Engine (and Docker Desktop, Colima, OrbStack, Rancher Desktop) over the Engine API. */
export class DockerAdapter extends EngineApiRuntime {
  readonly cli = 'docker'
  readonly displayName = 'Docker'
  readonly hostGatewayName = 'host.docker.internal'
  readonly name = 'docker'

  /**
   * The classic builder builds one platform. Several need buildx, which only
   * the docker CLI drives; without it, say so.
   */
  protected async buildMultiPlatform(options: BuildOptions): Promise<BuildResult> {
    const env = this.ctx.machine.env as NodeJS.ProcessEnv
    const {execa} = await import('execa')
    const docker = which('docker', env)
    const buildx = docker
      ? await execa(docker, ['buildx', 'version'], {env: {...env, DOCKER_HOST: this.endpoint.url}, reject: false})
      : undefined
    if (!docker || buildx?.exitCode !== 0) {
      throw new RuntimeError(
        'unsupported',
        'Docker can build for several platforms only with the buildx plugin, which is not installed here. Install it (https://docs.docker.com/build/install-buildx/), build one platform at a time, or use --runtime podman, which builds manifest lists natively.',
      )
    }

    // buildx keeps multi-platform results out of the classic image store, so it must push them.
    throw new RuntimeError(
      'unsupported',
      `Docker's buildx is installed, but it keeps a multi-platform result out of the local image store (it can only push it), so stigmer does not build several platforms with Docker. Build one platform at a time, use --runtime podman (it builds a local manifest list), or run buildx yourself: docker buildx build --platform ${options.platforms!.join(',')} --push -t <registry>/<name>:<tag> .`,
    )
  }

  protected productName(platformName: string | undefined, os: string): string {
    if (/docker desktop/i.test(os)) return 'Docker Desktop'
    // Docker Engine 20.10 reports Platform.Name as '' (not absent).
    return platformName || 'Docker Engine'
  }

  /** Stores credentials as `docker login` does: through the docker CLI (credential helpers) or in config.json. */
  protected async storeCredentials(credentials: RegistryCredentials): Promise<void> {
    const env = this.ctx.machine.env as NodeJS.ProcessEnv
    const docker = which('docker', env)
    if (docker) {
      const {execa} = await import('execa')
      const result = await execa(
        docker,
        ['login', '--username', credentials.username, '--password-stdin', credentials.registry],
        {
          env: {...env, DOCKER_HOST: this.endpoint.url},
          input: credentials.password,
          reject: false,
          timeout: 60_000,
        },
      )
      if (result.exitCode !== 0) {
        throw new RuntimeError('auth', `docker login ${credentials.registry} failed: ${result.stderr.trim()}`)
      }

      return
    }

    // No docker CLI: write Docker's own config.json format (what `docker login` writes without a credential store).
    const path = dockerConfigPath(env)
    let config: {auths?: Record<string, {auth: string}>} = {}
    if (existsSync(path)) config = JSON.parse(readFileSync(path, 'utf8')) as typeof config
    config.auths ??= {}
    const key = registryKeys(credentials.registry)[0]!
    config.auths[key] = {auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}
    mkdirSync(dirname(path), {mode: 0o700, recursive: true})
    const temp = `${path}.${process.pid}.tmp`
    writeFileSync(temp, JSON.stringify(config, null, 2), {mode: 0o600})
    renameSync(temp, path)
  }
}

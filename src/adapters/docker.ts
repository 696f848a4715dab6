import type {BuildOptions, BuildResult, RegistryCredentials} from '../engine/types.js'

import {which} from '../engine/detection/machine.js'
import {RuntimeError} from '../engine/errors.js'
import {
  CredentialStoreError,
  dockerConfigPath,
  helperFor,
  readAuthFile,
  runHelper,
  storeKey,
  writeAuthFile,
} from '../engine/registry-auth.js'
import {DOCKER_CAPABILITIES} from './capabilities.js'
import {cliLogin} from './cli-login.js'
import {EngineApiRuntime} from './engine-api.js'

/** Docker Engine (and Docker Desktop, Colima, OrbStack, Rancher Desktop) over the Engine API. */
export class DockerAdapter extends EngineApiRuntime {
  readonly capabilities = DOCKER_CAPABILITIES
  readonly cli = 'docker'
  readonly displayName = 'Docker'
  readonly hostGatewayName = DOCKER_CAPABILITIES.hostAlias
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
      // Anything but a failing store is the registry's refusal.
      await cliLogin({
        binary: docker,
        cli: this.cli,
        credentials,
        env: {...env, DOCKER_HOST: this.endpoint.url},
        otherwise: 'auth',
      })
      return
    }

    // No docker CLI: do what `docker login` does. A helper the config names (credHelpers for
    // this registry, else credsStore) keeps the credential; only without one does it go into
    // config.json's auths. Never plaintext where the user's config says a helper keeps it.
    const path = dockerConfigPath(env)
    const config = readAuthFile(path) ?? {}
    const key = storeKey(credentials.registry)
    const helper = helperFor(config, credentials.registry)
    if (helper) {
      const program = `docker-credential-${helper}`
      const found = which(program, env)
      if (!found) {
        throw new CredentialStoreError(
          'helper-missing',
          `${path} names the credential helper "${helper}", but ${program} is not on PATH`,
          {
            helper: program,
            path,
          },
        )
      }

      await runHelper(
        found,
        'store',
        JSON.stringify({Secret: credentials.password, ServerURL: key, Username: credentials.username}),
        path,
      )
      return
    }

    config.auths ??= {}
    config.auths[key] = {auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}
    writeAuthFile(path, config)
  }
}

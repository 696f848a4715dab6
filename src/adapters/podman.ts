import type Dockerode from 'dockerode'

import {mkdtempSync, writeFileSync} from 'node:fs'
import {networkInterfaces, tmpdir} from 'node:os'
import {join} from 'node:path'
// Two functions, not the whole of semver (47 modules) at every command's startup.
import coerce from 'semver/functions/coerce.js'
import gte from 'semver/functions/gte.js'

import type {
  BuildOptions,
  BuildResult,
  ContainerInfo,
  ContainerSpec,
  EngineInfo,
  HealthcheckRunResult,
  HealthStatus,
  ImageInfo,
  PushOptions,
  PushResult,
  RegistryCredentials,
} from '../engine/types.js'

import {parseBuildStep} from '../engine/build-step.js'
import {which} from '../engine/detection/machine.js'
import {probeEndpoint} from '../engine/detection/probe.js'
import {RuntimeError} from '../engine/errors.js'
import {credentialsFromFile, podmanAuthPaths} from '../engine/registry-auth.js'
import {removeOnExit} from '../lib/exit-cleanup.js'
import {parseImageRef, registryOf} from '../lib/image-ref.js'
import {PODMAN_CAPABILITIES} from './capabilities.js'
import {cliLogin} from './cli-login.js'
import {EngineApiRuntime, type EngineSystemInfo} from './engine-api.js'
import {toRuntimeError} from './engine-errors.js'
import {toHealthcheckSpec} from './healthcheck.js'
import {classifyStreamError} from './json-stream.js'

/**
 * Podman, through its Docker-compatible API service (a socket the user runs,
 * Podman machine's forwarded socket, or one stigmer starts). What differs from
 * Docker lives here: the host alias, health checks run on demand (Podman needs
 * systemd timers for periodic checks), Docker-format builds (OCI drops
 * HEALTHCHECK), keep-id user namespaces, manifest lists.
 */
export class PodmanAdapter extends EngineApiRuntime {
  readonly cli = 'podman'
  readonly displayName = 'Podman'
  readonly capabilities = PODMAN_CAPABILITIES
  readonly hostGatewayName = PODMAN_CAPABILITIES.hostAlias
  readonly name = 'podman'

  override async credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    for (const path of podmanAuthPaths(this.ctx.machine.env as NodeJS.ProcessEnv)) {
      const found = await credentialsFromFile(path, registry)
      if (found) return found
    }

    return undefined
  }

  /**
   * The compat image inspect omits the health check; libpod's has it. Asked
   * even when the io.stigmer.healthcheck label gave one: the label has the
   * command but not the interval, timeout, start period or retries.
   */
  override async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    // Both asked at once: one round trip instead of two on every start.
    const [info, raw] = await Promise.all([
      super.inspectImage(ref),
      (
        this.dial(`/v4.0.0/libpod/images/${encodeURIComponent(ref)}/json?`) as Promise<{
          Healthcheck?: {Interval?: number; Retries?: number; StartPeriod?: number; Test?: string[]; Timeout?: number}
        }>
      ).catch(() => undefined),
    ])
    if (!info || !raw) return info
    const healthcheck = toHealthcheckSpec(raw.Healthcheck as never)
    return healthcheck ? {...info, healthcheck} : info
  }

  /**
   * /info without /version: Podman 4.3 answers /version in about 0.33 s and /info in 0.2 s
   * (asked together, 0.36 s), on the path of every start. /info has the version, OS and
   * architecture; the API version is in the headers of /_ping.
   */
  protected override async infoAndVersion(): Promise<[EngineSystemInfo, Dockerode.DockerVersion]> {
    const [info, ping] = await Promise.all([
      this.client.info() as Promise<EngineSystemInfo>,
      probeEndpoint(this.endpoint).catch(() => undefined),
    ])
    if (!info.ServerVersion || !info.OSType || !info.Architecture || !ping?.apiVersion) return super.infoAndVersion()
    return [
      info,
      {ApiVersion: ping.apiVersion, Arch: info.Architecture, Os: info.OSType, Version: info.ServerVersion},
    ] as [EngineSystemInfo, Dockerode.DockerVersion]
  }

  /**
   * `podman login` checks the credentials with the registry itself, honouring
   * registries.conf (insecure registries). Podman's compat /auth endpoint does
   * not: it insists on TLS for every host but "localhost", so it cannot verify
   * a plain-HTTP registry such as 127.0.0.1:5000.
   */
  override async login(credentials: RegistryCredentials): Promise<void> {
    await this.storeCredentials(credentials)
  }

  /**
   * Podman 4 refuses to stop or force-remove a container that its restart policy
   * has between a crash and the restart ("could not be stopped ... container state
   * improper"): the state settles within moments, so ask again. What `server stop`
   * and a replacing `server start` meet when the agent-runner keeps crashing.
   */
  override async removeContainer(id: string, options: {force?: boolean} = {}): Promise<void> {
    await whenSettled(() => super.removeContainer(id, options))
  }

  override async stopContainer(id: string, options: {timeoutSeconds?: number} = {}): Promise<void> {
    await whenSettled(() => super.stopContainer(id, options))
  }

  /** Podman 4 refuses 'host-gateway' in extra hosts (Podman 5 knows it): put the host's address in its place. */
  override async createContainer(spec: ContainerSpec): Promise<string> {
    if (!Object.values(spec.extraHosts ?? {}).includes('host-gateway')) return super.createContainer(spec)
    const info = await this.info()
    if (info.inVm || gte(coerce(info.version) ?? '0.0.0', '5.0.0')) return super.createContainer(spec)
    const address = await this.hostGatewayAddress(spec.network, info)
    const extraHosts = Object.fromEntries(
      Object.entries(spec.extraHosts!).map(([name, a]) => [name, a === 'host-gateway' ? address : a]),
    )
    return super.createContainer({...spec, extraHosts})
  }

  override async pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    if (await this.isManifestList(ref)) return this.pushManifestList(ref, options)
    return super.pushImage(ref, options)
  }

  /**
   * A manifest list's name can only be removed with `podman manifest rm`, which
   * drops that name alone (the list goes with its last name). The compat
   * DELETE resolves the name to one of the list's images and fails with "tag
   * not known".
   */
  override async removeImage(ref: string, options: {force?: boolean} = {}): Promise<void> {
    if (await this.isManifestList(ref)) {
      const {execa} = await import('execa')
      const result = await execa(this.podmanBinary(), ['manifest', 'rm', ref], {env: this.cliEnv(), reject: false})
      if (result.exitCode !== 0)
        throw new RuntimeError('engine', `Could not remove the manifest list ${ref}: ${result.stderr.trim()}`)
      return
    }

    return super.removeImage(ref, options)
  }

  /**
   * Runs the health check now, through libpod's endpoint, which records the
   * result in the container's health log like a timer-driven check would.
   */
  override async runHealthcheck(id: string, container?: ContainerInfo): Promise<HealthcheckRunResult> {
    const info = container ?? (await this.inspectContainer(id))
    if (!info) throw new RuntimeError('not-found', `No container ${id}.`)
    if (!info.healthcheck) return {exitCode: 0, output: '', status: 'none'}
    if (!info.running) return {exitCode: -1, output: `container is ${info.status}`, status: 'unhealthy'}
    try {
      const result = (await this.dial(`/v4.0.0/libpod/containers/${encodeURIComponent(id)}/healthcheck?`)) as {
        FailingStreak?: number
        Log?: Array<{ExitCode: number; Output: string}>
        Status?: string
      }
      const probe = result.Log?.at(-1)
      // Podman 4 leaves Log out of this answer when the check passed: the probe is in the container's health log.
      const last = probe
        ? {exitCode: probe.ExitCode, output: probe.Output}
        : (await this.inspectContainer(id))?.healthLog.at(-1)
      return {
        exitCode: last?.exitCode ?? (result.Status === 'healthy' ? 0 : 1),
        output: (last?.output ?? '').trim(),
        status: (result.Status as HealthStatus) || 'starting',
      }
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not run the health check of ${id}`)
      // The image's HEALTHCHECK was dropped (OCI format) but our label has it: exec it.
      if (mapped.statusCode === 409) return super.runHealthcheck(id, info)
      throw mapped
    }
  }

  /** `podman build --platform a,b --manifest NAME`: Podman assembles the manifest list itself. */
  protected async buildMultiPlatform(options: BuildOptions): Promise<BuildResult> {
    const podman = this.podmanBinary()
    const {execa} = await import('execa')
    const [name, ...rest] = options.tags
    if (!name) throw new RuntimeError('build', 'A multi-platform build needs a tag for its manifest list.')
    const env = this.cliEnv()
    // --manifest adds to an existing list: start from an empty one.
    await execa(podman, ['manifest', 'rm', name], {env, reject: false})
    await execa(podman, ['rmi', '--force', name], {env, reject: false})
    const args = [
      'build',
      '--format',
      'docker',
      '--platform',
      options.platforms!.join(','),
      '--manifest',
      name,
      '-f',
      join(options.contextDir, options.dockerfile),
    ]
    for (const [k, v] of Object.entries(options.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`)
    for (const [k, v] of Object.entries(options.labels ?? {})) args.push('--label', `${k}=${v}`)
    if (options.target) args.push('--target', options.target)
    if (options.noCache) args.push('--no-cache')
    args.push(options.contextDir)
    let step: string | undefined
    const output: string[] = []
    const child = execa(podman, args, {
      all: true,
      env,
      reject: false,
      ...(options.signal ? {cancelSignal: options.signal} : {}),
    })
    child.all?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue
        const started = parseBuildStep(line)
        if (started) {
          step = started.line
          output.length = 0
          options.onProgress?.({kind: 'step', step: started})
          continue
        }

        output.push(line)
        if (output.length > 200) output.shift()
        options.onProgress?.({kind: 'build-output', line, ...(step ? {step} : {})})
      }
    })
    const result = await child
    if (options.signal?.aborted) throw new RuntimeError('aborted', 'Cancelled.')
    if (result.exitCode !== 0) {
      const lastError =
        output.findLast((l) => /^Error:|error/i.test(l)) ?? `podman build exited with code ${result.exitCode}`
      throw new RuntimeError('build', lastError, {output: output.join('\n'), ...(step ? {step} : {})})
    }

    for (const tag of rest) {
      const tagged = await execa(podman, ['tag', name, tag], {env, reject: false})
      if (tagged.exitCode !== 0) throw new RuntimeError('engine', `Could not tag ${name} as ${tag}: ${tagged.stderr}`)
    }

    const inspect = await execa(podman, ['manifest', 'inspect', name], {env, reject: false})
    const digestOf = await execa(podman, ['image', 'inspect', '--format', '{{.Id}}', name], {env, reject: false})
    if (inspect.exitCode !== 0)
      throw new RuntimeError('build', `The build finished but no manifest list ${name} exists.`)
    return {id: digestOf.stdout.trim(), manifestList: true, platforms: options.platforms!, tags: options.tags}
  }

  /** Podman's compat /build defaults to OCI, which has no HEALTHCHECK: ask for the Docker format. */
  protected override buildQueryExtras(): Record<string, unknown> {
    return {outputformat: 'application/vnd.docker.distribution.manifest.v2+json'}
  }

  protected override hostConfigExtras(spec: ContainerSpec, info: EngineInfo): Record<string, unknown> {
    // Rootless Podman maps the user to root inside; keep-id keeps their own uid, so files in binds stay theirs.
    return spec.keepUserNamespace && info.rootless ? {UsernsMode: 'keep-id'} : {}
  }

  protected productName(): string {
    return 'Podman Engine'
  }

  protected async storeCredentials(credentials: RegistryCredentials): Promise<void> {
    await cliLogin({binary: this.podmanBinary(), cli: this.cli, credentials, env: this.cliEnv(), otherwise: 'engine'})
  }

  private cliEnv(): NodeJS.ProcessEnv {
    const env = {...(this.ctx.machine.env as NodeJS.ProcessEnv)}
    // The podman CLI talks to local storage directly on Linux; elsewhere it goes through CONTAINER_HOST.
    if (this.ctx.machine.platform !== 'linux') env.CONTAINER_HOST = this.endpoint.url
    return env
  }

  private async isManifestList(ref: string): Promise<boolean> {
    const {execa} = await import('execa')
    const podman = which('podman', this.ctx.machine.env as NodeJS.ProcessEnv)
    if (!podman) return false
    const result = await execa(podman, ['manifest', 'exists', ref], {env: this.cliEnv(), reject: false})
    return result.exitCode === 0
  }

  /** Podman's formatSince: its compat API ignores a since it cannot parse, and it parses RFC 3339, not Docker's seconds.nanoseconds. */
  protected override formatSince(since: number | string): string {
    const ms = typeof since === 'number' ? since * 1000 : Date.parse(since)
    if (Number.isNaN(ms)) throw new RuntimeError('engine', `"${since}" is not a time (use unix seconds or RFC 3339).`)
    return new Date(ms).toISOString()
  }

  /**
   * Where the host answers a container: with host networking, loopback; on a
   * rootful bridge, the gateway of Podman's default network; rootless, the
   * host's own address (what Podman 4 writes for host.containers.internal).
   */
  private async hostGatewayAddress(network: ContainerSpec['network'], info: EngineInfo): Promise<string> {
    if (network === 'host') return '127.0.0.1'
    if (info.rootless) {
      const external = Object.values(networkInterfaces())
        .flat()
        .find((i) => i && i.family === 'IPv4' && !i.internal)
      if (external) return external.address
    } else {
      try {
        const net = (await this.dial('/v4.0.0/libpod/networks/podman/json?')) as {subnets?: Array<{gateway?: string}>}
        const gateway = net.subnets?.map((s) => s.gateway).find((g) => g && !g.includes(':'))
        if (gateway) return gateway
      } catch (error) {
        throw toRuntimeError(error, "Could not read the address of Podman's default network")
      }
    }

    throw new RuntimeError(
      'unsupported',
      "Podman gives no address for host-gateway here; pass the host's IP address instead.",
    )
  }

  /** A GET on Podman's own (libpod) API, on the same socket. */
  private dial(path: string): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.client.modem.dial(
        {
          method: 'GET',
          options: {},
          path,
          statusCodes: {
            200: true,
            404: 'no such object',
            409: 'conflict: no health check, or not running',
            500: 'server error',
          },
        },
        (error: unknown, data: unknown) => (error ? reject(error) : resolve(data)),
      )
    })
  }

  private podmanBinary(): string {
    const podman = which('podman', this.ctx.machine.env as NodeJS.ProcessEnv)
    if (!podman) throw new RuntimeError('unsupported', 'This needs the podman CLI on PATH.')
    return podman
  }

  /** `podman manifest push --all`, credentials in a private temporary auth file (never on the command line). */
  private async pushManifestList(ref: string, options: PushOptions): Promise<PushResult> {
    const {execa} = await import('execa')
    const parsed = parseImageRef(ref)
    const credentials = options.credentials ?? (await this.credentialsFor(registryOf(parsed)))
    const dir = mkdtempSync(join(tmpdir(), 'stigmer-auth-'))
    // Holds the registry password: removed when the push ends, or at exit by any path (a second Ctrl-C too).
    const registered = removeOnExit(dir)
    const digestFile = join(dir, 'digest')
    const args = ['manifest', 'push', '--all', '--format', 'v2s2', '--digestfile', digestFile]
    try {
      if (credentials) {
        const authFile = join(dir, 'auth.json')
        const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')
        writeFileSync(authFile, JSON.stringify({auths: {[credentials.registry]: {auth}}}), {mode: 0o600})
        args.push('--authfile', authFile)
      }

      args.push(ref, `docker://${ref}`)
      options.onProgress?.({kind: 'status', message: `Pushing manifest list ${ref}`})
      const result = await execa(this.podmanBinary(), args, {
        all: true,
        env: this.cliEnv(),
        reject: false,
        ...(options.signal ? {cancelSignal: options.signal} : {}),
      })
      if (options.signal?.aborted) throw new RuntimeError('aborted', 'Cancelled.')
      if (result.exitCode !== 0) {
        const text =
          String(result.all ?? '')
            .trim()
            .split('\n')
            .at(-1) ?? 'podman manifest push failed'
        throw new RuntimeError(classifyStreamError(text) === 'auth' ? 'auth' : 'stream', text)
      }

      let digest: string | undefined
      try {
        const {readFileSync} = await import('node:fs')
        digest = readFileSync(digestFile, 'utf8').trim() || undefined
      } catch {
        digest = undefined
      }

      return {digest, ref: parsed.ref}
    } finally {
      registered.release()
    }
  }
}

const IMPROPER_STATE = /container state improper|could not be stopped/i

/** Runs an operation again (up to ~2.5 s in all) while Podman reports the container in passing between states. */
async function whenSettled(operation: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await operation()
      return
    } catch (error) {
      if (attempt >= 8 || !(error instanceof RuntimeError) || !IMPROPER_STATE.test(error.message)) throw error
      await new Promise((resolve) => {
        setTimeout(resolve, 75 * attempt)
      })
    }
  }
}

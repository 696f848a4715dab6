import type Dockerode from 'dockerode'
import type {Readable} from 'node:stream'

import type {
  RuntimeContext,
  Bind,
  BuildOptions,
  BuildResult,
  ContainerFilter,
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ContainerStatus,
  ContainerSummary,
  Endpoint,
  EngineInfo,
  ExecOptions,
  ExecResult,
  HealthcheckRunResult,
  HealthStatus,
  ImageInfo,
  LogLine,
  LogOptions,
  ProgressEvent,
  ProgressListener,
  PullOptions,
  PullResult,
  PushOptions,
  PushResult,
  RegistryCredentials,
} from '../engine/types.js'

import {parseBuildStep} from '../engine/build-step.js'
import {isAuthFailure, RuntimeError} from '../engine/errors.js'
import {parseImageRef, registryOf} from '../lib/image-ref.js'
import {dockerodeFor} from './dockerode.js'
import {toRuntimeError} from './engine-errors.js'
import {fromHealthcheckSpec, parseHealthLabel, toHealthcheckSpec} from './healthcheck.js'
import {EngineInfoCache, engineIdentity} from './info-cache.js'
import {followJsonStream, type StreamMessage} from './json-stream.js'
import {demuxLines, LineDemuxer} from './log-demux.js'

/** The fields of the engine's /info that stigmer reads. */
export interface EngineSystemInfo {
  readonly Architecture?: string
  readonly DockerRootDir: string
  readonly KernelVersion?: string
  readonly OSType?: string
  readonly OperatingSystem?: string
  readonly SecurityOptions?: string[]
  readonly ServerVersion?: string
}

/** The build endpoint's query for one platform, from stigmer's build options. */
function buildQuery(options: BuildOptions, tag: string | undefined): Record<string, unknown> {
  return {
    dockerfile: options.dockerfile,
    rm: true,
    forcerm: true,
    ...(tag ? {t: tag} : {}),
    ...(options.buildArgs ? {buildargs: options.buildArgs} : {}),
    ...(options.labels ? {labels: options.labels} : {}),
    ...(options.platforms?.length === 1 ? {platform: options.platforms[0]} : {}),
    ...(options.target ? {target: options.target} : {}),
    ...(options.noCache ? {nocache: true} : {}),
  }
}

/**
 * Reads a classic (non-BuildKit) build's JSON stream: step events, each line of output (the
 * last 200 kept for the error of a failed step), and the image id however the engine says it.
 */
class BuildStreamReader {
  imageId: string | undefined
  step: string | undefined
  private readonly stepOutput: string[] = []

  constructor(private readonly onProgress: BuildOptions['onProgress']) {}

  output(): string {
    return this.stepOutput.join('\n')
  }

  read(message: StreamMessage): void {
    if (message.aux && typeof message.aux.ID === 'string') this.imageId = message.aux.ID
    const text = message.stream ?? (message.status && !message.id ? message.status : undefined)
    if (text === undefined) return
    for (const line of text.split('\n')) if (line.trim() !== '') this.readLine(line)
  }

  private readLine(line: string): void {
    const started = parseBuildStep(line)
    if (started) {
      this.step = started.line
      this.stepOutput.length = 0
      this.onProgress?.({kind: 'step', step: started})
      return
    }

    const idMatch = /^(?:Successfully built|COMMIT .*\n?-->) ?([\da-f]{12,64})/.exec(line.trim())
    if (idMatch) this.imageId ??= idMatch[1]
    if (/^[\da-f]{64}$/.test(line.trim())) this.imageId = line.trim()
    this.stepOutput.push(line)
    if (this.stepOutput.length > 200) this.stepOutput.shift()
    this.onProgress?.({kind: 'build-output', line, ...(this.step ? {step: this.step} : {})})
  }
}

function authConfig(credentials: RegistryCredentials | undefined): Record<string, string> | undefined {
  if (!credentials) return undefined
  return {password: credentials.password, serveraddress: credentials.registry, username: credentials.username}
}

function envToRecord(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=')
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1)
  }

  return out
}

function parseBind(bind: string): Bind {
  const [hostPath = '', containerPath = '', mode = ''] = bind.split(':')
  const flags = mode.split(',')
  return {
    containerPath,
    hostPath,
    readOnly: flags.includes('ro'),
    ...(flags.includes('Z')
      ? {selinuxRelabel: 'private' as const}
      : flags.includes('z')
        ? {selinuxRelabel: 'shared' as const}
        : {}),
  }
}

/** One message of an engine's pull, push or build stream as a progress event; undefined for none. */
export function progressEventOf(message: StreamMessage): ProgressEvent | undefined {
  if (message.id && message.status) {
    return {
      id: message.id,
      kind: 'layer',
      status: message.status,
      ...(message.progressDetail?.current === undefined ? {} : {current: message.progressDetail.current}),
      ...(message.progressDetail?.total === undefined ? {} : {total: message.progressDetail.total}),
    }
  }

  if (message.status) return {kind: 'status', message: message.status}
  if (message.stream && message.stream.trim() !== '') return {kind: 'status', message: message.stream.trim()}
  return undefined
}

/**
 * The Docker Engine API, as both Docker and Podman (through its
 * Docker-compatible service) speak it. DockerAdapter and PodmanAdapter extend
 * this and override what differs.
 */
export abstract class EngineApiRuntime implements ContainerRuntime {
  abstract readonly cli: string
  abstract readonly displayName: string
  abstract readonly hostGatewayName: string
  abstract readonly name: string
  protected readonly client: Dockerode
  private cachedInfo: EngineInfo | undefined
  private infoAnswer: Promise<EngineInfo> | undefined

  constructor(
    readonly endpoint: Endpoint,
    protected readonly ctx: RuntimeContext,
  ) {
    this.client = dockerodeFor(endpoint, ctx.machine.env)
  }

  async buildImage(options: BuildOptions): Promise<BuildResult> {
    if (options.platforms && options.platforms.length > 1) return this.buildMultiPlatform(options)
    const tarFs = await import('tar-fs')
    const context = tarFs.pack(options.contextDir)
    const [first, ...rest] = options.tags
    const reader = new BuildStreamReader(options.onProgress)
    const buildOpts = {...buildQuery(options, first), ...this.buildQueryExtras()}
    try {
      const stream = (await this.client.buildImage(context, {
        ...buildOpts,
        ...(options.signal ? {abortSignal: options.signal} : {}),
      } as Dockerode.ImageBuildOptions)) as unknown as Readable
      await followJsonStream(stream, (message) => reader.read(message), options.signal)
    } catch (error) {
      if (
        error instanceof RuntimeError &&
        (error.reason === 'stream' || error.reason === 'not-found' || error.reason === 'auth')
      ) {
        throw new RuntimeError('build', error.message, {
          cause: error,
          output: reader.output(),
          ...(reader.step ? {step: reader.step} : {}),
        })
      }

      throw toRuntimeError(error, 'Build failed')
    }

    if (first) {
      const info = await this.inspectImage(first)
      if (!info)
        throw new RuntimeError('build', `The build finished but ${first} does not exist.`, {
          output: reader.output(),
        })
      reader.imageId = info.id
      for (const tag of rest) await this.tagImage(first, tag)
    }

    return {
      id: reader.imageId ?? '',
      manifestList: false,
      platforms: options.platforms ?? [],
      tags: options.tags,
    }
  }

  async close(): Promise<void> {
    // dockerode keeps no persistent connection on unix sockets; subclasses stop helpers.
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const info = await this.info()
    const binds = spec.binds.map((b) => this.formatBind(b, info))
    if (spec.ports?.length && spec.network === 'host')
      throw new RuntimeError('unsupported', `Container ${spec.name}: ports are published with bridge networking only.`)
    const ports = (spec.ports ?? []).map((p) => ({...p, key: `${p.containerPort}/${p.protocol ?? 'tcp'}`}))
    const body: Dockerode.ContainerCreateOptions = {
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      HostConfig: {
        Binds: binds,
        NetworkMode: spec.network,
        ...(spec.extraHosts
          ? {ExtraHosts: Object.entries(spec.extraHosts).map(([h, a]) => `${h}:${this.hostAddress(a)}`)}
          : {}),
        ...(spec.restartPolicy ? {RestartPolicy: {Name: spec.restartPolicy}} : {}),
        ...(ports.length > 0
          ? {
              PortBindings: Object.fromEntries(
                ports.map((p) => [p.key, [{HostIp: p.hostIp ?? '127.0.0.1', HostPort: String(p.hostPort)}]]),
              ),
            }
          : {}),
        ...this.hostConfigExtras(spec, info),
      },
      ...(ports.length > 0 ? {ExposedPorts: Object.fromEntries(ports.map((p) => [p.key, {}]))} : {}),
      Image: spec.image,
      Labels: {...spec.labels},
      name: spec.name,
      ...(spec.user ? {User: spec.user} : {}),
      ...(spec.healthcheck ? {Healthcheck: fromHealthcheckSpec(spec.healthcheck)} : {}),
      ...(spec.command ? {Cmd: [...spec.command]} : {}),
      ...(spec.entrypoint ? {Entrypoint: [...spec.entrypoint]} : {}),
      ...(spec.stopTimeoutSeconds === undefined ? {} : {StopTimeout: spec.stopTimeoutSeconds}),
    }
    try {
      const container = await this.client.createContainer(body)
      return container.id
    } catch (error) {
      throw toRuntimeError(error, `Could not create container ${spec.name}`)
    }
  }

  async credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    const {credentialsFromFile, dockerConfigPath} = await import('../engine/registry-auth.js')
    return credentialsFromFile(dockerConfigPath(this.ctx.machine.env as NodeJS.ProcessEnv), registry)
  }

  async exec(id: string, command: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    try {
      const container = this.client.getContainer(id)
      const exec = await container.exec({
        AttachStderr: true,
        AttachStdout: true,
        Cmd: [...command],
        ...(options.user ? {User: options.user} : {}),
        ...(options.env ? {Env: Object.entries(options.env).map(([k, v]) => `${k}=${v}`)} : {}),
        ...(options.workdir ? {WorkingDir: options.workdir} : {}),
      })
      const stream = (await exec.start({hijack: true, stdin: false})) as unknown as Readable
      let stdout = ''
      let stderr = ''
      const collect = (async () => {
        for await (const line of demuxLines(stream, {})) {
          if (line.stream === 'stderr') stderr += line.text + '\n'
          else stdout += line.text + '\n'
        }
      })()
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => stream.destroy()
      options.signal?.addEventListener('abort', onAbort, {once: true})
      try {
        await (options.timeoutMs
          ? Promise.race([
              collect,
              new Promise((_, reject) => {
                timer = setTimeout(() => {
                  stream.destroy()
                  reject(new RuntimeError('timeout', `The command did not finish within ${options.timeoutMs} ms.`))
                }, options.timeoutMs)
              }),
            ])
          : collect)
      } finally {
        if (timer) clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }

      if (options.signal?.aborted) throw new RuntimeError('aborted', 'Cancelled.')
      let exitCode: null | number = null
      for (let i = 0; i < 20; i++) {
        const inspected = await exec.inspect()
        if (!inspected.Running) {
          exitCode = inspected.ExitCode
          break
        }

        await new Promise((r) => setTimeout(r, 25))
      }

      return {exitCode: exitCode ?? -1, stderr: stderr.replace(/\n$/, ''), stdout: stdout.replace(/\n$/, '')}
    } catch (error) {
      throw toRuntimeError(error, `Could not run ${command[0] ?? 'a command'} in ${id}`)
    }
  }

  async imageExists(ref: string): Promise<boolean> {
    return (await this.inspectImage(ref)) !== undefined
  }

  /** One answer per adapter: callers that ask at the same time (the prerun hook and the command) share it. */
  info(): Promise<EngineInfo> {
    this.infoAnswer ??= this.readInfo().catch((error: unknown) => {
      this.infoAnswer = undefined
      throw error
    })
    return this.infoAnswer
  }

  private async readInfo(): Promise<EngineInfo> {
    if (this.cachedInfo) return this.cachedInfo
    // Kept across commands under the state folder, for as long as the engine is the same one.
    const identity = this.ctx.stateDir ? await engineIdentity(this.endpoint) : undefined
    const cache = identity ? new EngineInfoCache(this.ctx.stateDir!, identity, this.endpoint.url) : undefined
    const kept = cache?.read(this.endpoint, this.name)
    if (kept) {
      this.cachedInfo = kept
      return kept
    }

    try {
      const [info, version] = await this.infoAndVersion()
      const security: string[] = info.SecurityOptions ?? []
      const platformName = (version as {Platform?: {Name?: string}}).Platform?.Name
      const hostPlatform = this.ctx.machine.platform
      const remote = !this.endpoint.url.startsWith('unix://') && !this.endpoint.url.startsWith('npipe://')
      const os = String(info.OperatingSystem ?? '')
      const inVm =
        hostPlatform !== 'linux' ||
        remote ||
        /docker desktop/i.test(`${os} ${platformName ?? ''}`) ||
        /linuxkit/i.test(String(info.KernelVersion ?? ''))
      this.cachedInfo = {
        apiVersion: version.ApiVersion,
        arch: version.Arch,
        dataRoot: info.DockerRootDir,
        endpoint: this.endpoint,
        inVm,
        name: this.productName(platformName, os),
        os: version.Os,
        rootless: security.some((s) => s.includes('rootless')),
        runtime: this.name,
        securityOptions: security,
        version: version.Version,
      }
      cache?.write(this.cachedInfo)
      return this.cachedInfo
    } catch (error) {
      throw toRuntimeError(error, `${this.displayName} did not answer`)
    }
  }

  async inspectContainer(idOrName: string): Promise<ContainerInfo | undefined> {
    let raw: Dockerode.ContainerInspectInfo
    try {
      raw = await this.client.getContainer(idOrName).inspect()
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not inspect ${idOrName}`)
      if (mapped.reason === 'not-found') return undefined
      throw mapped
    }

    const health = (
      raw.State as {
        Health?: {
          FailingStreak?: number
          Log?: Array<{End: string; ExitCode: number; Output: string; Start: string}>
          Status?: string
        }
      }
    ).Health
    const status = (raw.State.Status ?? 'created') as ContainerStatus
    const configHealth = toHealthcheckSpec(raw.Config.Healthcheck) ?? parseHealthLabel(raw.Config.Labels)
    const healthStatus: HealthStatus = health?.Status && health.Status !== '' ? (health.Status as HealthStatus) : 'none'
    const zeroTime = (t: string | undefined) => (!t || t.startsWith('0001-') ? undefined : t)
    return {
      binds: (raw.HostConfig.Binds ?? []).map((b) => parseBind(b)),
      created: raw.Created,
      env: envToRecord(raw.Config.Env),
      error: raw.State.Error || undefined,
      exitCode: raw.State.ExitCode,
      finishedAt: zeroTime(raw.State.FinishedAt),
      healthFailingStreak: health?.FailingStreak ?? 0,
      healthLog: (health?.Log ?? []).map((l) => ({end: l.End, exitCode: l.ExitCode, output: l.Output, start: l.Start})),
      health: healthStatus,
      healthcheck: configHealth,
      id: raw.Id,
      image: raw.Config.Image,
      imageId: raw.Image,
      labels: raw.Config.Labels ?? {},
      name: raw.Name.replace(/^\//, ''),
      network: raw.HostConfig.NetworkMode ?? '',
      oomKilled: raw.State.OOMKilled,
      restartCount: raw.RestartCount ?? 0,
      running: raw.State.Running,
      startedAt: zeroTime(raw.State.StartedAt),
      status,
      user: raw.Config.User ?? '',
    }
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    let raw: Dockerode.ImageInspectInfo
    try {
      raw = await this.client.getImage(ref).inspect()
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not inspect image ${ref}`)
      if (mapped.reason === 'not-found') return undefined
      throw mapped
    }

    const config = (raw.Config ?? {}) as Dockerode.ImageInspectInfo['Config'] & {Healthcheck?: Dockerode.HealthConfig}
    const healthcheck = toHealthcheckSpec(config.Healthcheck) ?? parseHealthLabel(config.Labels ?? undefined)
    return {
      architecture: raw.Architecture,
      created: raw.Created,
      digests: raw.RepoDigests ?? [],
      id: raw.Id,
      labels: config.Labels ?? {},
      os: raw.Os,
      size: raw.Size,
      tags: raw.RepoTags ?? [],
      user: config.User ?? '',
      ...(healthcheck ? {healthcheck} : {}),
      ...((raw as {Variant?: string}).Variant ? {variant: (raw as {Variant?: string}).Variant!} : {}),
    }
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerSummary[]> {
    const filters: Record<string, string[]> = {}
    if (filter.name) filters.name = [filter.name]
    if (filter.labels) filters.label = Object.entries(filter.labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    try {
      const list = await this.client.listContainers({all: filter.all ?? true, filters})
      return list
        .map((c) => ({
          id: c.Id,
          image: c.Image,
          labels: c.Labels ?? {},
          name: (c.Names?.[0] ?? '').replace(/^\//, ''),
          status: c.State as ContainerStatus,
        }))
        .filter((c) => !filter.name || c.name === filter.name)
    } catch (error) {
      throw toRuntimeError(error, 'Could not list containers')
    }
  }

  async login(credentials: RegistryCredentials): Promise<void> {
    try {
      await this.client.checkAuth(authConfig(credentials)!)
    } catch (error) {
      const mapped = toRuntimeError(error, `${credentials.registry} refused the login for ${credentials.username}`)
      throw mapped.reason === 'engine' && isAuthFailure(mapped.message)
        ? new RuntimeError('auth', mapped.message, {cause: error})
        : mapped
    }

    await this.storeCredentials(credentials)
  }

  /**
   * The container's lines, one batch per chunk of the engine's stream (see ContainerRuntime).
   * @yields the lines each chunk completes, in the order the engine sent them.
   */
  async *logBatches(id: string, options: LogOptions = {}): AsyncGenerator<readonly LogLine[]> {
    const container = this.client.getContainer(id)
    let tty = false
    try {
      tty = Boolean((await container.inspect()).Config.Tty)
      const opts = {
        follow: options.follow ?? false,
        stderr: true,
        stdout: true,
        timestamps: options.timestamps ?? false,
        ...(options.tail === undefined ? {} : {tail: options.tail}),
        ...(options.since === undefined ? {} : {since: this.formatSince(options.since)}),
        ...(options.signal ? {abortSignal: options.signal} : {}),
      }
      // Always a stream, also without follow: dockerode would buffer the whole log first
      // (50 MB of logs meant 50 MB in memory and no output until the engine finished).
      const {abortSignal, ...query} = opts as typeof opts & {abortSignal?: AbortSignal}
      const stream = (await new Promise<Readable>((resolve, reject) => {
        this.client.modem.dial(
          {
            ...(abortSignal ? {abortSignal} : {}),
            isStream: true,
            method: 'GET',
            options: query,
            path: `/containers/${encodeURIComponent(id)}/logs?`,
            statusCodes: {200: true, 404: 'no such container', 500: 'server error'},
          },
          (error: unknown, data: unknown) => (error ? reject(error) : resolve(data as Readable)),
        )
      })) as Readable
      const onAbort = () => stream.destroy()
      options.signal?.addEventListener('abort', onAbort, {once: true})
      try {
        // One promise per chunk of the engine's stream, not one per line.
        const demux = new LineDemuxer({raw: tty, timestamps: options.timestamps ?? false})
        for await (const chunk of stream) {
          const lines = demux.push(chunk as Buffer | string)
          if (lines.length > 0) yield lines
        }

        const last = demux.end()
        if (last.length > 0) yield last
      } catch (error) {
        if (options.signal?.aborted) return
        throw error
      } finally {
        options.signal?.removeEventListener('abort', onAbort)
        stream.destroy()
      }
    } catch (error) {
      if (options.signal?.aborted) return
      throw toRuntimeError(error, `Could not read logs of ${id}`)
    }
  }

  /**
   * Line by line, for callers that read a few lines (tails in error messages, plugins).
   * @yields one LogLine per line, in the order the engine sent them.
   */
  async *logs(id: string, options: LogOptions = {}): AsyncGenerator<LogLine> {
    for await (const batch of this.logBatches(id, options)) yield* batch
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await (signal ? this.client.ping({abortSignal: signal} as never) : this.client.ping())
    } catch (error) {
      throw toRuntimeError(error, `${this.displayName} did not answer at ${this.endpoint.url}`)
    }
  }

  async pullImage(ref: string, options: PullOptions = {}): Promise<PullResult> {
    const parsed = parseImageRef(ref)
    const credentials = options.credentials ?? (await this.credentialsFor(registryOf(parsed)).catch(() => undefined))
    try {
      const stream = (await this.client.pull(parsed.ref, {
        ...(credentials ? {authconfig: authConfig(credentials)} : {}),
        ...(options.platform ? {platform: options.platform} : {}),
        ...(options.signal ? {abortSignal: options.signal} : {}),
      })) as Readable
      await followJsonStream(stream, (m) => this.emitProgress(m, options.onProgress), options.signal)
    } catch (error) {
      throw toRuntimeError(error, `Could not pull ${ref}`)
    }

    const info = await this.inspectImage(parsed.ref)
    if (!info) throw new RuntimeError('not-found', `The pull of ${ref} ended but the image is not there.`)
    const name = parsed.registry ? `${parsed.registry}/${parsed.repository}` : parsed.repository
    const digest = parsed.digest ?? info.digests.find((d) => d.startsWith(`${name}@`))?.split('@')[1]
    return {digest, id: info.id, ref: parsed.ref, sizeBytes: info.size}
  }

  async pushImage(ref: string, options: PushOptions = {}): Promise<PushResult> {
    const parsed = parseImageRef(ref)
    const name = parsed.registry ? `${parsed.registry}/${parsed.repository}` : parsed.repository
    const credentials = options.credentials ?? (await this.credentialsFor(registryOf(parsed)).catch(() => undefined))
    let digest: string | undefined
    try {
      const stream = (await this.client.getImage(name).push({
        tag: parsed.tag ?? 'latest',
        ...(credentials ? {authconfig: authConfig(credentials)} : {}),
        ...(options.signal ? {abortSignal: options.signal} : {}),
      } as never)) as unknown as Readable
      await followJsonStream(
        stream,
        (m) => {
          if (m.aux && typeof m.aux.Digest === 'string') digest = m.aux.Digest
          const match = m.status ? /digest: (sha256:[\da-f]{64})/.exec(m.status) : null
          if (match) digest = match[1]
          this.emitProgress(m, options.onProgress)
        },
        options.signal,
      )
    } catch (error) {
      throw toRuntimeError(error, `Could not push ${ref}`)
    }

    return {digest, ref: parsed.ref}
  }

  async removeContainer(id: string, options: {force?: boolean} = {}): Promise<void> {
    try {
      await this.client.getContainer(id).remove({force: options.force ?? false, v: false})
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not remove container ${id}`)
      if (mapped.reason === 'not-found') return
      // "removal already in progress" is fine: it is going away.
      if (mapped.reason === 'conflict' && /already in progress/i.test(mapped.message)) return
      throw mapped
    }
  }

  async removeImage(ref: string, options: {force?: boolean} = {}): Promise<void> {
    try {
      await this.client.getImage(ref).remove({force: options.force ?? false})
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not remove image ${ref}`)
      if (mapped.reason === 'not-found') return
      throw mapped
    }
  }

  /** Docker runs health checks itself but offers no "run it now": exec the check's command. */
  async runHealthcheck(id: string, container?: ContainerInfo): Promise<HealthcheckRunResult> {
    const info = container ?? (await this.inspectContainer(id))
    if (!info) throw new RuntimeError('not-found', `No container ${id}.`)
    if (!info.healthcheck) return {exitCode: 0, output: '', status: 'none'}
    if (!info.running) return {exitCode: -1, output: `container is ${info.status}`, status: 'unhealthy'}
    const result = await this.exec(id, info.healthcheck.test, {timeoutMs: info.healthcheck.timeoutMs ?? 30_000})
    const output = [result.stdout, result.stderr].filter(Boolean).join('\n')
    return {exitCode: result.exitCode, output, status: result.exitCode === 0 ? 'healthy' : 'unhealthy'}
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.client.getContainer(id).start()
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not start container ${id}`)
      // 304: already started
      if ((mapped.statusCode ?? 0) === 304) return
      throw mapped
    }
  }

  async stopContainer(id: string, options: {timeoutSeconds?: number} = {}): Promise<void> {
    try {
      await this.client.getContainer(id).stop(options.timeoutSeconds === undefined ? {} : {t: options.timeoutSeconds})
    } catch (error) {
      const mapped = toRuntimeError(error, `Could not stop container ${id}`)
      if (mapped.statusCode === 304 || mapped.reason === 'not-found') return
      throw mapped
    }
  }

  async tagImage(source: string, target: string): Promise<void> {
    const parsed = parseImageRef(target)
    const repo = parsed.registry ? `${parsed.registry}/${parsed.repository}` : parsed.repository
    try {
      await this.client.getImage(source).tag({repo, tag: parsed.tag ?? 'latest'})
    } catch (error) {
      throw toRuntimeError(error, `Could not tag ${source} as ${target}`)
    }
  }

  /** The engine's /info and /version answers (Podman overrides: its /version is slow). */
  protected async infoAndVersion(): Promise<[EngineSystemInfo, Dockerode.DockerVersion]> {
    return Promise.all([this.client.info() as Promise<EngineSystemInfo>, this.client.version()])
  }

  /** Multi-platform builds differ per engine. */
  protected abstract buildMultiPlatform(options: BuildOptions): Promise<BuildResult>

  /**
   * The `since` of a logs request. Docker takes unix seconds, with a fraction
   * only as exactly nine digits of nanoseconds ("1700000000.500000000"); it
   * refuses RFC 3339.
   */
  protected formatSince(since: number | string): string {
    const ms = typeof since === 'number' ? since * 1000 : Date.parse(since)
    if (Number.isNaN(ms)) throw new RuntimeError('engine', `"${since}" is not a time (use unix seconds or RFC 3339).`)
    const seconds = Math.floor(ms / 1000)
    const nanos = Math.round((ms - seconds * 1000) * 1_000_000)
    return `${seconds}.${String(nanos).padStart(9, '0')}`
  }

  /** Extra query parameters for /build (Podman: keep the Docker format so HEALTHCHECK survives). */
  protected buildQueryExtras(): Record<string, unknown> {
    return {}
  }

  protected emitProgress(message: StreamMessage, listener: ProgressListener | undefined): void {
    if (!listener) return
    const event = progressEventOf(message)
    if (event) listener(event)
  }

  protected formatBind(bind: Bind, info: EngineInfo): string {
    const flags: string[] = []
    if (bind.readOnly) flags.push('ro')
    if (bind.selinuxRelabel && info.securityOptions.some((s) => s.includes('selinux'))) {
      flags.push(bind.selinuxRelabel === 'private' ? 'Z' : 'z')
    }

    return `${bind.hostPath}:${bind.containerPath}${flags.length > 0 ? `:${flags.join(',')}` : ''}`
  }

  /** Translates 'host-gateway' for engines that do not know it. */
  protected hostAddress(address: string): string {
    return address
  }

  protected hostConfigExtras(_spec: ContainerSpec, _info: EngineInfo): Partial<Dockerode.HostConfig> {
    return {}
  }

  protected abstract productName(platformName: string | undefined, os: string): string

  /** Stores verified credentials where the engine's CLI keeps them. */
  protected abstract storeCredentials(credentials: RegistryCredentials): Promise<void>
}

import type Dockerode from 'dockerode'
import type {Readable} from 'node:stream'

import {readFileSync} from 'node:fs'
import {StringDecoder} from 'node:string_decoder'

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
  HealthcheckSpec,
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

import {parseEndpointUrl} from '../engine/detection/endpoint.js'
import {isAuthFailure, RuntimeError, type RuntimeErrorReason} from '../engine/errors.js'
import {parseImageRef, registryOf} from '../lib/image-ref.js'
import {parseBuildStep} from './build-step.js'
import {Dockerode as DockerodeClient, sshHttpAgent} from './dockerode.js'
import {EngineInfoCache, engineIdentity} from './info-cache.js'
import {followJsonStream, type StreamMessage} from './json-stream.js'

const NS = 1_000_000

/** Where the image's health check is recorded as JSON, for engines that drop HEALTHCHECK (Podman OCI images). */
export const HEALTHCHECK_LABEL = 'io.stigmer.healthcheck'

/** Builds the dockerode client for an endpoint. */
export function dockerodeFor(ep: Endpoint): Dockerode {
  // docker-modem folds the process's DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH
  // into every client it makes (and throws on a malformed DOCKER_HOST). The endpoint was
  // chosen by detection already: build the client without them.
  const saved = {
    DOCKER_CERT_PATH: process.env.DOCKER_CERT_PATH,
    DOCKER_HOST: process.env.DOCKER_HOST,
    DOCKER_TLS_VERIFY: process.env.DOCKER_TLS_VERIFY,
  }
  delete process.env.DOCKER_HOST
  delete process.env.DOCKER_TLS_VERIFY
  delete process.env.DOCKER_CERT_PATH
  try {
    return makeDockerode(ep)
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v
  }
}

function makeDockerode(ep: Endpoint): Dockerode {
  const parsed = parseEndpointUrl(ep.url, ep.source)
  const read = (p?: string) => {
    if (!p) return undefined
    try {
      return readFileSync(p)
    } catch {
      return undefined
    }
  }

  switch (parsed.protocol) {
    case 'npipe':
    case 'unix': {
      return new DockerodeClient({socketPath: parsed.socketPath!})
    }

    case 'ssh': {
      // Plain HTTP through an agent whose connections are `docker system dial-stdio` over SSH.
      // docker-modem's own protocol: 'ssh' builds "ssh:host:port" request URLs that Node
      // parses with a DEP0170 warning on every request.
      return new DockerodeClient({
        agent: sshHttpAgent({
          host: parsed.host!,
          port: parsed.port!,
          ...(parsed.username ? {username: parsed.username} : {}),
          ...(process.env.SSH_AUTH_SOCK ? {agent: process.env.SSH_AUTH_SOCK} : {}),
        }),
        host: parsed.host!,
        port: parsed.port!,
        protocol: 'http',
      } as Dockerode.DockerOptions)
    }

    case 'tcp': {
      const tls = ep.tls
      return new DockerodeClient({
        host: parsed.host!,
        port: parsed.port!,
        protocol: tls ? 'https' : 'http',
        ...(tls ? {ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key)} : {}),
      } as Dockerode.DockerOptions)
    }
  }
}

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

/** Socket errors that mean the engine cannot be reached (it stopped, or its address leads nowhere). */
const UNREACHABLE_CODES = new Set([
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
  'ENOTFOUND',
  'EPIPE',
  'ETIMEDOUT',
])

/** Maps dockerode/HTTP errors to RuntimeError reasons. */
export function toRuntimeError(error: unknown, what: string): RuntimeError {
  if (error instanceof RuntimeError) return error
  const e = error as {
    code?: string
    json?: {message?: string}
    message?: string
    name?: string
    reason?: string
    statusCode?: number
  }
  // docker-modem puts the engine's own words in `json.message`, or (for streamed
  // endpoints such as pull) after "(HTTP code 500) server error - " in `message`.
  const fromMessage = e.message?.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim()
  const detail = e.json?.message ?? (fromMessage || undefined) ?? e.reason ?? String(error)
  const message = `${what}: ${detail}`.replace(/\s+$/, '')
  if (e.name === 'AbortError' || e.code === 'ABORT_ERR')
    return new RuntimeError('aborted', 'Cancelled.', {cause: error})
  if (e.code !== undefined && UNREACHABLE_CODES.has(e.code)) {
    return new RuntimeError('unreachable', message, {cause: error})
  }

  // ssh2 (ssh:// endpoints) marks its failures with a level: client-socket, client-timeout,
  // client-authentication, handshake, protocol. Each means the engine cannot be reached.
  if (typeof (error as {level?: unknown}).level === 'string') {
    return new RuntimeError('unreachable', `${what}: the SSH connection to the engine failed: ${detail}`, {
      cause: error,
    })
  }

  if (e.code === 'EACCES' || e.code === 'EPERM') return new RuntimeError('permission', message, {cause: error})
  return new RuntimeError(reasonOfAnswer(e.statusCode, detail), message, {
    cause: error,
    ...(e.statusCode ? {statusCode: e.statusCode} : {}),
  })
}

/** What an engine's error answer means: by its HTTP status, else by its words (Podman answers 500 where Docker answers 409). */
function reasonOfAnswer(statusCode: number | undefined, detail: string): RuntimeErrorReason {
  if (statusCode === 401 || statusCode === 403) return 'auth'
  if (statusCode === 404) return 'not-found'
  if (statusCode === 409 || /already in use|container state improper/i.test(detail)) return 'conflict'
  return isAuthFailure(detail) ? 'auth' : 'engine'
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

export function toHealthcheckSpec(raw: Dockerode.HealthConfig | undefined): HealthcheckSpec | undefined {
  if (!raw?.Test || raw.Test.length === 0 || raw.Test[0] === 'NONE') return undefined
  const [kind, ...rest] = raw.Test
  const test = kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : kind === 'CMD' ? rest : raw.Test
  return {
    test,
    ...(raw.Interval ? {intervalMs: raw.Interval / NS} : {}),
    ...(raw.Timeout ? {timeoutMs: raw.Timeout / NS} : {}),
    ...(raw.StartPeriod ? {startPeriodMs: raw.StartPeriod / NS} : {}),
    ...(raw.Retries ? {retries: raw.Retries} : {}),
  }
}

function fromHealthcheckSpec(spec: HealthcheckSpec): Dockerode.HealthConfig {
  // A shell check goes back as CMD-SHELL, the form images store: Podman 4 splits
  // the arguments of a CMD check at spaces, so ['CMD', '/bin/sh', '-c', 'a b'] would run `sh -c a`.
  const [shell, flag, script, ...extra] = spec.test
  const shellForm = shell === '/bin/sh' && flag === '-c' && script !== undefined && extra.length === 0
  return {
    Test: shellForm ? ['CMD-SHELL', script] : ['CMD', ...spec.test],
    ...(spec.intervalMs ? {Interval: spec.intervalMs * NS} : {}),
    ...(spec.timeoutMs ? {Timeout: spec.timeoutMs * NS} : {}),
    ...(spec.startPeriodMs ? {StartPeriod: spec.startPeriodMs * NS} : {}),
    ...(spec.retries ? {Retries: spec.retries} : {}),
  }
}

function parseHealthLabel(labels: Record<string, string> | undefined): HealthcheckSpec | undefined {
  const raw = labels?.[HEALTHCHECK_LABEL]
  if (!raw) return undefined
  try {
    const test = JSON.parse(raw) as unknown
    if (Array.isArray(test) && test.every((t) => typeof t === 'string')) {
      return toHealthcheckSpec({Test: test[0] === 'CMD' || test[0] === 'CMD-SHELL' ? test : ['CMD', ...test]})
    }
  } catch {
    // a label we cannot read is no health check
  }

  return undefined
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

/**
 * Splits the engine's multiplexed stdout/stderr stream (8-byte frame headers)
 * into lines, chunk by chunk and synchronously (no promise per line: 50 MB of
 * logs are ~600 000 lines). A container with a TTY sends a raw stream; then
 * everything is stdout.
 */
export class LineDemuxer {
  // A chunk or frame may end inside a multi-byte character.
  private readonly decoders = {stderr: new StringDecoder('utf8'), stdout: new StringDecoder('utf8')}
  /** Whether a stream's last frame ended inside a line. */
  private readonly open: Record<'stderr' | 'stdout', boolean> = {stderr: false, stdout: false}
  private readonly partial: Record<'stderr' | 'stdout', string> = {stderr: '', stdout: ''}
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly options: {raw?: boolean; timestamps?: boolean} = {}) {}

  /** The lines the stream has finished by its end (a last line without a newline included). */
  end(): LogLine[] {
    const out: LogLine[] = []
    for (const kind of ['stdout', 'stderr'] as const) {
      this.partial[kind] += this.decoders[kind].end()
      if (this.partial[kind] !== '') out.push(this.toLine(kind, this.partial[kind]))
      this.partial[kind] = ''
    }

    return out
  }

  /** The lines this chunk completes, in the order the engine sent them. */
  push(chunk: Buffer | string): LogLine[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    const out: LogLine[] = []
    if (this.options.raw) {
      this.lines('stdout', this.decoders.stdout.write(buf), out)
      return out
    }

    const pending = this.pending.length === 0 ? buf : Buffer.concat([this.pending, buf])
    // Docker sends one frame per line: the payloads of consecutive frames of one stream are
    // copied together and decoded and split once per run, not once per frame.
    const run = Buffer.allocUnsafe(pending.length)
    let runKind: 'stderr' | 'stdout' | undefined
    let runEnd = 0
    let offset = 0
    while (pending.length - offset >= 8) {
      const size = pending.readUInt32BE(offset + 4)
      if (pending.length - offset < 8 + size) break
      const kind = pending[offset] === 2 ? 'stderr' : 'stdout'
      let payload = pending.subarray(offset + 8, offset + 8 + size)
      offset += 8 + size
      if (payload.length === 0) continue
      if (kind !== runKind) {
        if (runKind !== undefined) this.lines(runKind, this.decoders[runKind].write(run.subarray(0, runEnd)), out)
        runKind = kind
        runEnd = 0
      }

      // A line the engine stored in parts (Podman: a write without its newline; Docker: over
      // 16 kB) comes as several frames, each with its own timestamp: the line keeps the first.
      if (this.options.timestamps && this.open[kind]) payload = withoutTimestamp(payload)
      this.open[kind] = payload.at(-1) !== 0x0a
      runEnd += payload.copy(run, runEnd)
    }

    if (runKind !== undefined) this.lines(runKind, this.decoders[runKind].write(run.subarray(0, runEnd)), out)
    // A copy: a view would keep the whole chunk alive until the next one.
    this.pending = offset === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(offset))
    return out
  }

  private lines(kind: 'stderr' | 'stdout', text: string, out: LogLine[]): void {
    const parts = (this.partial[kind] + text).split('\n')
    this.partial[kind] = parts.pop() ?? ''
    for (const part of parts) out.push(this.toLine(kind, part))
  }

  private toLine(kind: 'stderr' | 'stdout', raw: string): LogLine {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (this.options.timestamps) {
      const space = line.indexOf(' ')
      if (space > 0 && /^\d{4}-\d\d-\d\dT/.test(line))
        return {stream: kind, text: line.slice(space + 1), timestamp: line.slice(0, space)}
    }

    return {stream: kind, text: line, timestamp: undefined}
  }
}

const FRAME_TIMESTAMP = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d) /

/** A frame's payload without the timestamp the engine put in front of it (timestamps=1). */
function withoutTimestamp(payload: Buffer): Buffer {
  const match = FRAME_TIMESTAMP.exec(payload.subarray(0, 48).toString('latin1'))
  return match ? payload.subarray(match[0].length) : payload
}

/**
 * LineDemuxer over a whole stream.
 * @yields one LogLine per line, in the order the engine sent them.
 */
export async function* demuxLines(
  stream: Readable,
  options: {raw?: boolean; timestamps?: boolean},
): AsyncGenerator<LogLine> {
  const demux = new LineDemuxer(options)
  for await (const chunk of stream) yield* demux.push(chunk as Buffer | string)
  yield* demux.end()
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
    this.client = dockerodeFor(endpoint)
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
    const {credentialsFromFile, dockerConfigPath} = await import('./registry-auth.js')
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

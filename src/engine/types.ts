/**
 * The seam between stigmer and a container engine.
 *
 * Everything here is in stigmer's own vocabulary: no dockerode, execa or engine
 * types leak through. A new engine is added by implementing `ContainerRuntime`
 * (see docs/architecture.md, "Adding a runtime").
 */

import type {Endpoint} from './detection/endpoint.js'
import type {Candidate, MachineView, RuntimeContext, Strategy} from './detection/strategies.js'

/** Names of the runtimes stigmer ships. Plugins may add more (see plugin-api.ts). */
export type RuntimeName = string

/** A parsed image reference (defined with its parser in lib/image-ref.ts). */
export type {ImageRef} from '../lib/image-ref.js'

export interface EngineInfo {
  readonly runtime: RuntimeName
  /** Product name as the engine reports it: "Docker Engine - Community", "Podman Engine", "Docker Desktop". */
  readonly name: string
  readonly version: string
  readonly apiVersion: string
  readonly os: string
  readonly arch: string
  readonly rootless: boolean
  readonly endpoint: Endpoint
  /** The engine runs inside a VM (Docker Desktop, Podman machine, Colima): host networking does not reach the host. */
  readonly inVm: boolean
  /** Where images are stored, when the engine says (for free-disk checks). */
  readonly dataRoot?: string
  /** Security options reported by the engine (selinux, apparmor, seccomp, rootless, userns). */
  readonly securityOptions: readonly string[]
}

/** How to reach an engine (defined in detection, which finds them). */
export type {Endpoint} from './detection/endpoint.js'

export interface ImageInfo {
  readonly id: string
  /** Names the engine knows the image by (repo:tag). */
  readonly tags: readonly string[]
  /** Repo digests (repo@sha256:...), one per registry it was pulled from or pushed to. */
  readonly digests: readonly string[]
  readonly size: number
  readonly architecture: string
  readonly os: string
  readonly variant?: string
  readonly created: string
  readonly labels: Readonly<Record<string, string>>
  readonly user: string
  readonly healthcheck?: HealthcheckSpec
}

export interface HealthcheckSpec {
  /** Exec form of the check ("CMD-SHELL" checks are stored as ['/bin/sh', '-c', cmd]). */
  readonly test: readonly string[]
  readonly intervalMs?: number
  readonly timeoutMs?: number
  readonly startPeriodMs?: number
  readonly retries?: number
}

/** Registry credentials. Never logged; adapters hand them to the engine out of band (header, stdin). */
export interface RegistryCredentials {
  readonly username: string
  readonly password: string
  readonly registry: string
}

/** One progress event of a pull or push, per layer. */
export interface LayerProgress {
  readonly kind: 'layer'
  readonly id: string
  /** Pulling fs layer, Waiting, Downloading, Extracting, Pushing, Pushed, Already exists, Pull complete, ... */
  readonly status: string
  readonly current?: number
  readonly total?: number
}

/** A free-text status line of a pull/push/build ("Pulling from x"; a build's steps are `step` events). */
export interface StatusProgress {
  readonly kind: 'status'
  readonly message: string
}

/** A step of a build, read from the engine's step line (src/engine/build-step.ts). */
export interface BuildStep {
  /** The line as the engine printed it: "Step 3/9 : RUN x", "[2/2] STEP 3/5: RUN x". */
  readonly line: string
  /** "3/9". */
  readonly number: string
  /** The stage of a multi-stage build, when the engine names it: "2/2". */
  readonly stage?: string
  /** The Dockerfile instruction: "RUN x". */
  readonly instruction: string
}

/** A build starts a step. */
export interface StepProgress {
  readonly kind: 'step'
  readonly step: BuildStep
}

/** A line of build output. */
export interface BuildOutput {
  readonly kind: 'build-output'
  readonly line: string
  /** "Step 3/9 : RUN ..." of the step this output belongs to, when known. */
  readonly step?: string
}

export type ProgressEvent = BuildOutput | LayerProgress | StatusProgress | StepProgress

export type ProgressListener = (event: ProgressEvent) => void

export interface PullOptions {
  readonly credentials?: RegistryCredentials
  readonly platform?: string
  readonly onProgress?: ProgressListener
  readonly signal?: AbortSignal
}

export interface PushOptions {
  readonly credentials?: RegistryCredentials
  readonly onProgress?: ProgressListener
  readonly signal?: AbortSignal
}

export interface BuildOptions {
  /** A staged build context folder (already filtered by the ignore rules). */
  readonly contextDir: string
  /** Dockerfile path relative to contextDir. */
  readonly dockerfile: string
  readonly tags: readonly string[]
  readonly buildArgs?: Readonly<Record<string, string>>
  readonly labels?: Readonly<Record<string, string>>
  /** One platform (linux/arm64) builds an image for it; several build a manifest list named by tags[0]. */
  readonly platforms?: readonly string[]
  readonly target?: string
  readonly noCache?: boolean
  readonly onProgress?: ProgressListener
  readonly signal?: AbortSignal
}

export interface BuildResult {
  /** Image id, or the manifest list's id for multi-platform builds. */
  readonly id: string
  readonly tags: readonly string[]
  readonly platforms: readonly string[]
  readonly manifestList: boolean
}

export interface PushResult {
  readonly ref: string
  readonly digest: string | undefined
}

export interface PullResult {
  readonly ref: string
  readonly id: string
  readonly digest: string | undefined
  /** The pulled image's size on disk, when the adapter has it at hand (saves an inspect). */
  readonly sizeBytes?: number
}

export interface Bind {
  readonly hostPath: string
  readonly containerPath: string
  readonly readOnly?: boolean
  /** Relabel for SELinux: 'private' is :Z, 'shared' is :z. Adapters drop it where SELinux is off. */
  readonly selinuxRelabel?: 'private' | 'shared'
}

export type NetworkMode = 'bridge' | 'host'

/** A container port published on the host (bridge networking; host networking needs none). */
export interface PortBinding {
  readonly containerPort: number
  readonly hostPort: number
  /** Host address to listen on. Default 127.0.0.1: this machine only, never the whole network. */
  readonly hostIp?: string
  readonly protocol?: 'tcp' | 'udp'
}

export type RestartPolicy = 'always' | 'no' | 'on-failure' | 'unless-stopped'

export interface ContainerSpec {
  readonly name: string
  readonly image: string
  readonly env: Readonly<Record<string, string>>
  readonly binds: readonly Bind[]
  readonly network: NetworkMode
  /** name -> address. The special address 'host-gateway' maps to the host. */
  readonly extraHosts?: Readonly<Record<string, string>>
  /** Ports published on the host; with bridge networking only. */
  readonly ports?: readonly PortBinding[]
  /** "uid:gid" or a user name; undefined keeps the image's USER. */
  readonly user?: string
  /** Rootless Podman: map the invoking user to the same uid inside (--userns=keep-id). */
  readonly keepUserNamespace?: boolean
  readonly labels?: Readonly<Record<string, string>>
  readonly restartPolicy?: RestartPolicy
  /** Overrides the image's health check; undefined keeps the image's. */
  readonly healthcheck?: HealthcheckSpec
  readonly command?: readonly string[]
  readonly entrypoint?: readonly string[]
  readonly stopTimeoutSeconds?: number
}

export type ContainerStatus = 'created' | 'dead' | 'exited' | 'paused' | 'removing' | 'restarting' | 'running'

export type HealthStatus = 'healthy' | 'none' | 'starting' | 'unhealthy'

export interface HealthProbe {
  readonly start: string
  readonly end: string
  readonly exitCode: number
  readonly output: string
}

export interface ContainerSummary {
  readonly id: string
  readonly name: string
  readonly image: string
  readonly status: ContainerStatus
  readonly labels: Readonly<Record<string, string>>
}

export interface ContainerInfo extends ContainerSummary {
  readonly imageId: string
  readonly created: string
  readonly startedAt: string | undefined
  readonly finishedAt: string | undefined
  readonly running: boolean
  readonly exitCode: number
  readonly oomKilled: boolean
  readonly error: string | undefined
  readonly restartCount: number
  readonly health: HealthStatus
  readonly healthFailingStreak: number
  /** The last health probe results, oldest first. */
  readonly healthLog: readonly HealthProbe[]
  /** The health check in effect (the container's override or the image's). */
  readonly healthcheck: HealthcheckSpec | undefined
  readonly env: Readonly<Record<string, string>>
  readonly binds: readonly Bind[]
  readonly network: string
  readonly user: string
}

export interface ContainerFilter {
  readonly name?: string
  /** Every label must match; a value of '' matches any value. */
  readonly labels?: Readonly<Record<string, string>>
  /** Include stopped containers (default true). */
  readonly all?: boolean
}

export interface LogLine {
  readonly stream: 'stderr' | 'stdout'
  /** RFC 3339 timestamp from the engine, when timestamps were asked for. */
  readonly timestamp: string | undefined
  readonly text: string
}

export interface LogOptions {
  readonly follow?: boolean
  /** Number of lines from the end; undefined means all. */
  readonly tail?: number
  /** Unix seconds, or an RFC 3339 time. */
  readonly since?: number | string
  readonly timestamps?: boolean
  readonly signal?: AbortSignal
}

export interface ExecOptions {
  readonly user?: string
  readonly env?: Readonly<Record<string, string>>
  readonly workdir?: string
  readonly signal?: AbortSignal
  readonly timeoutMs?: number
}

export interface ExecResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface HealthcheckRunResult {
  readonly status: HealthStatus
  readonly exitCode: number
  readonly output: string
}

/**
 * Everything stigmer asks of a container engine.
 *
 * Errors are `RuntimeError`s (see ./errors.ts) with a `reason` the services
 * can act on (not-found, conflict, auth, ...), never raw engine errors.
 */
export interface ContainerRuntime {
  readonly name: RuntimeName
  /** Human name for messages: "Docker", "Podman". */
  readonly displayName: string
  /** The CLI a user would type for manual steps in error messages ("docker", "podman"). */
  readonly cli: string
  /** Hostname that reaches the host from a bridge-networked container. */
  readonly hostGatewayName: string
  /** Where this runtime talks to its engine. */
  readonly endpoint: Endpoint
  /** What differs about this engine (see `EngineCapabilities`); the generic ones when absent. */
  readonly capabilities?: EngineCapabilities

  info(): Promise<EngineInfo>
  ping(signal?: AbortSignal): Promise<void>

  // images
  imageExists(ref: string): Promise<boolean>
  inspectImage(ref: string): Promise<ImageInfo | undefined>
  pullImage(ref: string, options?: PullOptions): Promise<PullResult>
  buildImage(options: BuildOptions): Promise<BuildResult>
  tagImage(source: string, target: string): Promise<void>
  pushImage(ref: string, options?: PushOptions): Promise<PushResult>
  removeImage(ref: string, options?: {force?: boolean}): Promise<void>
  /** Stores credentials the way the engine's own CLI does (docker login / podman login). */
  login(credentials: RegistryCredentials): Promise<void>
  /** Credentials the engine's CLI already has for a registry (config.json, credential helpers, auth.json). */
  credentialsFor(registry: string): Promise<RegistryCredentials | undefined>

  // containers
  listContainers(filter?: ContainerFilter): Promise<ContainerSummary[]>
  createContainer(spec: ContainerSpec): Promise<string>
  startContainer(id: string): Promise<void>
  stopContainer(id: string, options?: {timeoutSeconds?: number}): Promise<void>
  removeContainer(id: string, options?: {force?: boolean}): Promise<void>
  /** undefined when no such container. */
  inspectContainer(idOrName: string): Promise<ContainerInfo | undefined>
  logs(id: string, options?: LogOptions): AsyncIterable<LogLine>
  /**
   * The same lines as `logs`, in the same order, a batch at a time (each chunk the engine
   * sends, split into lines): one promise per batch instead of one per line, which is what
   * 50 MB of logs (~600 000 lines) spend most of their time on. Optional: callers fall back
   * to `logs` when a runtime has no batches.
   */
  logBatches?(id: string, options?: LogOptions): AsyncIterable<readonly LogLine[]>
  exec(id: string, command: readonly string[], options?: ExecOptions): Promise<ExecResult>
  /**
   * Runs the container's health check now and records the result (podman healthcheck run; Docker:
   * exec of the check). `container`: the caller's fresh inspect of it, so the adapter need not ask again.
   */
  runHealthcheck(id: string, container?: ContainerInfo): Promise<HealthcheckRunResult>

  /** Releases sockets and helper processes. */
  close(): Promise<void>
}

/** Where an engine's own `login` keeps registry credentials. */
export type LoginStore =
  /** Docker's config.json ($DOCKER_CONFIG or ~/.docker), or the credential helper it names. */
  | 'docker-config'
  /** The containers auth.json (REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ...). */
  | 'containers-auth'

/**
 * What differs between engines, declared by the engine (its provider and its adapter) so
 * services ask for a capability instead of testing an engine's name. A plugin runtime that
 * declares none gets `GENERIC_CAPABILITIES` (src/adapters/capabilities.ts).
 */
export interface EngineCapabilities {
  /** Hostname that reaches the host from a bridge-networked container. */
  readonly hostAlias: string
  /** The engine does not provide `hostAlias` by itself: bridge containers need it mapped to `host-gateway`. */
  readonly hostAliasNeedsHostGateway: boolean
  /** Rootless: map the invoking user to the same uid inside (`--userns=keep-id`), so files in binds stay theirs. */
  readonly keepIdWhenRootless: boolean
  /** Rootless host networking is a namespace of its own (RootlessKit): the host's loopback is not reached. */
  readonly rootlessHostNetworkIsolated: boolean
  /** What the VM the engine runs in is called, for messages ("Podman machine", "Docker Desktop"). */
  vmName(platform: NodeJS.Platform, product: string | undefined): string
  /** Where `<cli> login` keeps credentials; undefined when stigmer does not know the engine's store. */
  readonly loginStore?: LoginStore
  /** Flags a hand-typed `<cli> build` needs to build what stigmer builds (Podman: `--format docker`). */
  readonly manualBuildFlags: readonly string[]
}

export type {RuntimeContext} from './detection/strategies.js'

/**
 * A container engine stigmer can use. Built-in: docker and podman (src/adapters/providers.ts). Plugins
 * add more through the `stigmer:runtimes` hook (see src/plugin-api.ts).
 */
export interface RuntimeProvider {
  readonly name: string
  readonly displayName: string
  /** The engine's own CLI, for "run this by hand" hints. */
  readonly cli: string
  /** What differs about this engine; the generic ones when absent (see src/adapters/capabilities.ts). */
  readonly capabilities?: EngineCapabilities
  /** Its sockets may be answered by Docker or Podman, told apart by the ping's headers (see detection/detect.ts). */
  readonly identifiedByPing?: boolean
  strategies(ctx: RuntimeContext): Strategy[]
  /** Builds the adapter for an endpoint that answered. Loads the engine client lazily. */
  create(endpoint: Endpoint, ctx: RuntimeContext): Promise<ContainerRuntime>
  /** Starts an API service for a spawnable candidate and resolves once it answers. */
  spawn?(candidate: Candidate, ctx: RuntimeContext): Promise<void>
  /** One line each: how to install it on this platform. */
  installHints(platform: NodeJS.Platform): string[]
  /** How to start it when installed but not running. */
  startHints(platform: NodeJS.Platform, candidate?: Candidate): string[]
  /** What to do about a permission-denied socket. */
  permissionHints(platform: NodeJS.Platform, socket: string): string[]
  /** Whether its CLI is installed (binary on PATH) even if nothing answers. */
  installed(machine: MachineView): boolean
}

import {createHash} from 'node:crypto'

import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  EngineCapabilities,
  EngineInfo,
  NetworkMode,
} from '../engine/types.js'
import type {ResolvedImage} from '../image/resolution.js'

import {capabilitiesOf} from '../engine/capabilities.js'
import {parseImageRef, registryOf} from '../lib/image-ref.js'
import {buildContainerEnv, type ContainerEnvironment} from './env.js'
import {chooseNetworkMode, extraHostsFor, type NetworkModeChoice} from './network.js'

/**
 * What the agent-runner container is made of: its name, labels, user, mounts and
 * environment (buildServerSpec), and the hash that says whether a running one is
 * still "the same". Pure: no engine call, no file touched.
 */

export const CONTAINER_NAME = 'stigmer-agent-runner'
export const LABEL_MANAGED = 'io.stigmer.managed'
export const LABEL_CLI_VERSION = 'io.stigmer.cli-version'
export const LABEL_SPEC_HASH = 'io.stigmer.spec-hash'
export const LABEL_WORKSPACE = 'io.stigmer.workspace'
export const LABEL_NETWORK = 'io.stigmer.network'
export const LABEL_NETWORK_REASON = 'io.stigmer.network-reason'
export const LABEL_IMAGE_REF = 'io.stigmer.image'
/** How long the engine waits after SIGTERM before it kills the container. */
export const STOP_TIMEOUT_SECONDS = 10
/** TEMPORAL_SERVICE_ADDRESS as the host reaches it (the container's copy may be rewritten to a host alias). */
export const LABEL_TEMPORAL = 'io.stigmer.temporal-address'

/** The container stigmer manages, as the engine sees it now (undefined when there is none). */
export async function findManaged(runtime: ContainerRuntime): Promise<ContainerInfo | undefined> {
  return runtime.inspectContainer(CONTAINER_NAME)
}

/** The user the container runs as, so files in /workspace belong to the host user. */
// eslint-disable-next-line max-params -- the four facts the answer depends on
export function containerUser(
  platform: NodeJS.Platform,
  engine: Pick<EngineInfo, 'inVm' | 'rootless'>,
  capabilities: Pick<EngineCapabilities, 'keepIdWhenRootless'>,
  uid: number | undefined,
  gid: number | undefined,
): {keepUserNamespace?: boolean; user?: string} {
  // Docker Desktop / Podman machine share files through the VM with the user's ownership.
  if (platform !== 'linux' || engine.inVm || uid === undefined || gid === undefined) return {}
  // Rootless Podman: keep-id maps the user to the same uid inside.
  if (capabilities.keepIdWhenRootless && engine.rootless) return {keepUserNamespace: true, user: `${uid}:${gid}`}
  // The image's user is 1000; root keeps it (never run the agent-runner as root).
  if (uid === 1000 || uid === 0) return {}
  return {user: `${uid}:${gid}`}
}

/**
 * The registry digest of `ref` among an image's repo digests. Podman lists one
 * per name the image has (a local build's name too), in no useful order: take
 * the one of the repository being run, else the first.
 */
export function repoDigest(digests: readonly string[], ref: string): string | undefined {
  const canonical = (name: string) => {
    try {
      const parsed = parseImageRef(name)
      return `${registryOf(parsed)}/${parsed.repository.replace(/^library\//, '')}`
    } catch {
      return name
    }
  }

  const wanted = canonical(ref.split('@')[0]!)
  const match = digests.find((d) => canonical(d.split('@')[0]!) === wanted) ?? digests[0]
  return match?.split('@')[1]
}

/** A stable hash of everything that makes a container "the same" one. */
export function specHash(spec: ContainerSpec, imageId: string): string {
  const canonical = JSON.stringify({
    binds: spec.binds,
    env: Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b)),
    extraHosts: Object.entries(spec.extraHosts ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    imageId,
    keep: spec.keepUserNamespace ?? false,
    network: spec.network,
    restart: spec.restartPolicy,
    user: spec.user ?? '',
  })
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16)
}

/** What the user asked the container to be made of (flags, config, host env): `server start` and `server export` take it as is. */
export interface ContainerChoices {
  /** --network and where it came from (flag, config); undefined: stigmer chooses. */
  readonly network?: {mode: NetworkMode; source: string} | undefined
  readonly workspace: string
  readonly envFlags: Readonly<Record<string, string | undefined>>
  readonly hostEnv: Readonly<Record<string, string | undefined>>
  readonly configEnv: Readonly<Record<string, string>>
  readonly extraEnv: Readonly<Record<string, string>>
}

/** What `server start` builds its container from: the request, plus what the engine and the image say. */
export interface ServerSpecInput extends ContainerChoices {
  readonly runtime: Pick<ContainerRuntime, 'capabilities' | 'hostGatewayName' | 'name'>
  readonly engine: Pick<EngineInfo, 'inVm' | 'name' | 'rootless'>
  readonly image: Pick<ResolvedImage, 'ref'>
  /** The image's configured USER (ImageInfo.user). */
  readonly imageUser: string
  readonly platform: NodeJS.Platform
  readonly uid: number | undefined
  readonly gid: number | undefined
}

export interface ServerSpec {
  /** The container `server start` creates (before its labels). */
  readonly spec: ContainerSpec
  readonly network: NetworkModeChoice
  readonly environment: ContainerEnvironment
  /** Root on a native engine: the workspace folder goes to the image's (non-root) user. */
  readonly handTo: {gid: number; uid: number} | undefined
}

/**
 * The container spec of `server start`: network mode, environment, user and
 * workspace mount. Pure (no engine call, no file touched): `server start`
 * creates exactly this, and `server export` translates it.
 */
export function buildServerSpec(input: ServerSpecInput): ServerSpec {
  const {engine, platform, runtime} = input
  const capabilities = capabilitiesOf(runtime)
  const network = chooseNetworkMode({
    engineInfo: {capabilities, inVm: engine.inVm, name: engine.name, rootless: engine.rootless},
    platform,
    requested: input.network?.mode,
    ...(input.network ? {requestedSource: input.network.source} : {}),
  })
  const gatewayName = network.mode === 'bridge' ? runtime.hostGatewayName : undefined
  const environment: ContainerEnvironment = buildContainerEnv({
    configEnv: input.configEnv,
    extra: input.extraEnv,
    flags: input.envFlags,
    gatewayName,
    hostEnv: input.hostEnv,
  })
  const user = containerUser(platform, engine, capabilities, input.uid, input.gid)
  const spec: ContainerSpec = {
    binds: [{containerPath: '/workspace', hostPath: input.workspace, selinuxRelabel: 'private'}],
    env: environment.env,
    extraHosts: extraHostsFor(network.mode, capabilities),
    image: input.image.ref,
    labels: {},
    name: CONTAINER_NAME,
    network: network.mode,
    restartPolicy: 'unless-stopped',
    stopTimeoutSeconds: STOP_TIMEOUT_SECONDS,
    ...user,
  }
  return {environment, handTo: workspaceOwner(input, user), network, spec}
}

/**
 * Root on a native engine: the container keeps the image's numeric user (never root), so the
 * workspace folder goes to that user. Undefined otherwise.
 */
function workspaceOwner(
  input: Pick<ServerSpecInput, 'engine' | 'imageUser' | 'platform' | 'uid'>,
  user: {user?: string},
): {gid: number; uid: number} | undefined {
  if (input.platform !== 'linux' || input.engine.inVm || input.uid !== 0 || user.user !== undefined) return undefined
  const imageUser = /^(\d+)(?::(\d+))?$/.exec(input.imageUser)
  if (!imageUser || imageUser[1] === '0') return undefined
  return {gid: Number(imageUser[2] ?? imageUser[1]), uid: Number(imageUser[1])}
}

/** What a managed container's labels record: how `server start` recognises, and `server status` describes, it. */
export interface ManagedLabels {
  readonly cliVersion: string
  readonly imageRef: string
  readonly network: NetworkModeChoice
  readonly specHash: string
  /** TEMPORAL_SERVICE_ADDRESS as the host reaches it. */
  readonly temporal: string
  readonly workspace: string
}

/** The spec with stigmer's labels on it: what `server start` creates. */
export function labelledSpec(spec: ContainerSpec, labels: ManagedLabels): ContainerSpec {
  return {
    ...spec,
    labels: {
      [LABEL_CLI_VERSION]: labels.cliVersion,
      [LABEL_IMAGE_REF]: labels.imageRef,
      [LABEL_MANAGED]: 'true',
      [LABEL_NETWORK]: labels.network.mode,
      [LABEL_NETWORK_REASON]: labels.network.reason,
      [LABEL_SPEC_HASH]: labels.specHash,
      [LABEL_TEMPORAL]: labels.temporal,
      [LABEL_WORKSPACE]: labels.workspace,
    },
  }
}

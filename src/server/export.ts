/**
 * `stigmer server export`: the container `server start` would run, handed to
 * the engines teams already use (Kubernetes, Compose) instead of run here.
 *
 * The spec comes from `buildServerSpec`, the one `server start` creates its
 * container from; this module only translates it. The translation is pure
 * (`kubernetesObjects`, `composeProject`, `renderExport`) so tests check the
 * generated objects without an engine; `exportServer` adds what only the engine
 * knows (its network mode, the image's digest and health check) and writes files.
 */
import {chmodSync, existsSync, mkdirSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {Document, isScalar, visit} from 'yaml'

import type {HealthcheckSpec, ImageInfo} from '../engine/types.js'

import {StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {parseImageRef} from '../lib/image-ref.js'
import {isSecretName} from '../lib/redact.js'
import {ensureImage, type StartRequest} from './lifecycle.js'
import {isLoopbackHost} from './network.js'
import {buildServerSpec, repoDigest, type ServerSpec} from './spec.js'

export type ExportFormat = 'compose' | 'kubernetes'

/** The user the agent-runner image runs as (docker/Dockerfile: USER 1000:1000). */
export const RUNNER_UID = 1000
export const DEFAULT_EXPORT_NAME = 'stigmer-agent-runner'
const CONTAINER = 'agent-runner'
const WORKSPACE = '/workspace'

/** Names that mean "the machine the engine runs on": meaningless inside a cluster. */
const HOST_ALIASES = new Set([
  'docker.for.mac.localhost',
  'gateway.docker.internal',
  'host-gateway',
  'host.containers.internal',
  'host.docker.internal',
  'host.lima.internal',
])

/** The addresses that must point at something a pod can reach, and the flag that sets each. */
const CLUSTER_ADDRESSES = [
  {
    flag: 'temporal-address',
    name: 'TEMPORAL_SERVICE_ADDRESS',
    what: 'Temporal',
    example: 'temporal-frontend.temporal:7233',
  },
  {
    flag: 'backend-endpoint',
    name: 'STIGMER_BACKEND_ENDPOINT',
    what: 'the Stigmer backend',
    example: 'stigmer-backend:7234',
  },
] as const

export interface ExportOptions {
  readonly format: ExportFormat
  /** Object names and app.kubernetes.io/instance. */
  readonly name: string
  readonly replicas: number
  readonly includeSecrets: boolean
  readonly cpuRequest: string
  readonly memoryRequest: string
  /** Size of the workspace claim. */
  readonly storage: string
  readonly storageClass?: string | undefined
  /** Kubernetes: each pod gets its own claim (a generic ephemeral volume) instead of one shared claim. */
  readonly perPodWorkspace: boolean
}

/** What the image says about itself, as far as an export needs it. */
export interface ExportImage {
  /** The reference as resolved (--image, the config, the pinned one). */
  readonly ref: string
  /** Registry digest (sha256:...) when the image came from or went to a registry. */
  readonly digest: string | undefined
  readonly healthcheck: HealthcheckSpec | undefined
  readonly version: string | undefined
}

export interface ExportFile {
  /** File name (in the output folder, or the --output file itself). */
  readonly name: string
  readonly content: string
  /** Holds secret values: written 0600, never printed under --json. */
  readonly secret: boolean
  /** Named by another file but not written (the Compose env file without --include-secrets). */
  readonly placeholder?: boolean
}

export interface ExportObject {
  readonly kind: string
  readonly name: string
}

export interface RenderedExport {
  readonly format: ExportFormat
  /** One file per object (Kubernetes) or the compose file and its env file. */
  readonly files: readonly ExportFile[]
  /** Everything in one stream: the multi-document YAML, or the compose file. */
  readonly combined: ExportFile
  readonly objects: readonly ExportObject[]
  /** Secret variables, by name only. */
  readonly secretNames: readonly string[]
  readonly warnings: readonly string[]
}

// ---------------------------------------------------------------- helpers

/** The host part of host, host:port, [v6]:port, scheme://user@host:port/path or dns:///host:port. */
export function addressHost(value: string): string {
  let rest = value.trim().replace(/^dns:\/\/[^/]*\//i, '')
  rest = rest.replace(/^[a-z][\d+.a-z-]*:\/\//i, '').replace(/^[^#/?@]*@/, '')
  if (rest.startsWith('[')) return rest.slice(1, Math.max(1, rest.indexOf(']'))).toLowerCase()
  // A bare IPv6 literal has several colons and no port.
  if ((rest.match(/:/g)?.length ?? 0) > 1 && !rest.includes('/')) return rest.toLowerCase()
  return (rest.split(/[#/:?]/)[0] ?? '').toLowerCase()
}

/** True for an address that means "this machine" or "the engine's host": it cannot work from a pod. */
export function isHostLocalAddress(value: string): boolean {
  const host = addressHost(value)
  return isLoopbackHost(host) || HOST_ALIASES.has(host)
}

/** The image reference pinned by digest when the digest is known (repo:tag@sha256:...). */
export function pinnedReference(ref: string, digest: string | undefined): string {
  if (!digest || ref.includes('@')) return ref
  return `${ref}@${digest}`
}

function seconds(ms: number | undefined, fallback: number): number {
  return ms ? Math.max(1, Math.ceil(ms / 1000)) : fallback
}

/** A Compose duration: whole seconds as "30s", else milliseconds. */
function composeDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** A Kubernetes label value (63 characters, alphanumerics with -_. inside), or undefined. */
function labelValue(value: string | undefined): string | undefined {
  if (!value) return undefined
  return /^[\dA-Za-z](?:[\w.-]{0,61}[\dA-Za-z])?$/.test(value) ? value : undefined
}

function imageVersion(ref: string, labels: Readonly<Record<string, string>>): string | undefined {
  const fromLabel = labels['org.opencontainers.image.version']
  if (fromLabel) return fromLabel
  try {
    return parseImageRef(ref).tag
  } catch {
    return undefined
  }
}

function secretEnvFileName(name: string): string {
  return `${name}.secrets.env`
}

/** The environment `start` passes, with bridge rewrites undone (a pod has no host gateway). */
export function clusterEnvironment(built: ServerSpec): Record<string, string> {
  return {...built.spec.env, ...built.environment.rewritten}
}

/**
 * Kubernetes only: refuses Temporal and backend addresses that name this
 * machine (localhost, 127.0.0.1, host.docker.internal, ...) unless the user
 * set them with their own flag (a sidecar in the pod is a real localhost).
 */
export function checkClusterAddresses(built: ServerSpec): void {
  const env = clusterEnvironment(built)
  const bad = CLUSTER_ADDRESSES.filter(({flag, name}) => {
    const value = env[name]
    return value !== undefined && built.environment.sources[name] !== `--${flag}` && isHostLocalAddress(value)
  })
  if (bad.length === 0) return
  const lines = bad.map(
    ({name, what}) =>
      `${name}=${env[name]} (${built.environment.sources[name] ?? 'default'}) names this machine, not ${what}`,
  )
  throw new StigmerError(
    `Cannot export for Kubernetes: ${lines.join('; ')}. Inside a cluster, localhost is the pod itself and host.docker.internal / host.containers.internal do not exist, so the agent-runner would never reach them.`,
    {
      code: 'EXPORT_LOCAL_ADDRESS',
      data: {variables: bad.map((b) => b.name)},
      exit: ExitCode.USAGE,
      suggestions: bad.map(({example, flag}) => `Give the address the pods should use: --${flag} ${example}`),
    },
  )
}

// ---------------------------------------------------------------- Kubernetes

export interface KubernetesObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: {labels?: Record<string, string>; name: string}
  readonly [key: string]: unknown
}

export function kubernetesLabels(name: string, image: ExportImage): Record<string, string> {
  const version = labelValue(image.version)
  return {
    'app.kubernetes.io/component': CONTAINER,
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/managed-by': 'stigmer',
    'app.kubernetes.io/name': CONTAINER,
    'app.kubernetes.io/part-of': 'stigmer',
    ...(version ? {'app.kubernetes.io/version': version} : {}),
  }
}

function probes(hc: HealthcheckSpec | undefined): Record<string, unknown> {
  if (!hc || hc.test.length === 0) return {}
  const common = {
    exec: {command: [...hc.test]},
    failureThreshold: hc.retries || 3,
    periodSeconds: seconds(hc.intervalMs, 30),
    timeoutSeconds: seconds(hc.timeoutMs, 30),
  }
  const startPeriod = hc.startPeriodMs ? seconds(hc.startPeriodMs, 0) : 0
  return {
    // Ready as soon as the check passes; restarted only after the start period and `retries` failures.
    livenessProbe: {...common, ...(startPeriod ? {initialDelaySeconds: startPeriod} : {})},
    readinessProbe: {...common, periodSeconds: Math.min(common.periodSeconds, 10)},
  }
}

/** The Deployment, ConfigMap, Secret and PersistentVolumeClaim, as plain objects. */
export function kubernetesObjects(
  built: ServerSpec,
  image: ExportImage,
  options: ExportOptions,
): {objects: KubernetesObject[]; secretNames: string[]} {
  const env = clusterEnvironment(built)
  const names = Object.keys(env).sort()
  const secretNames = names.filter((n) => isSecretName(n))
  const plain = names.filter((n) => !isSecretName(n))
  const labels = kubernetesLabels(options.name, image)
  const selector = {'app.kubernetes.io/instance': options.name, 'app.kubernetes.io/name': CONTAINER}
  const configName = `${options.name}-config`
  const secretName = `${options.name}-secrets`
  const claimName = `${options.name}-workspace`
  const claimSpec = {
    accessModes: [options.replicas > 1 ? 'ReadWriteMany' : 'ReadWriteOnce'],
    resources: {requests: {storage: options.storage}},
    ...(options.storageClass ? {storageClassName: options.storageClass} : {}),
  }

  const configMap: KubernetesObject = {
    apiVersion: 'v1',
    data: Object.fromEntries(plain.map((n) => [n, env[n]!])),
    kind: 'ConfigMap',
    metadata: {labels, name: configName},
  }
  const secret: KubernetesObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {labels, name: secretName},
    stringData: Object.fromEntries(secretNames.map((n) => [n, options.includeSecrets ? env[n]! : ''])),
    type: 'Opaque',
  }
  const claim: KubernetesObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {labels, name: claimName},
    spec: claimSpec,
  }
  const workspaceVolume = options.perPodWorkspace
    ? {
        ephemeral: {
          volumeClaimTemplate: {
            metadata: {labels},
            spec: {...claimSpec, accessModes: ['ReadWriteOnce']},
          },
        },
        name: 'workspace',
      }
    : {name: 'workspace', persistentVolumeClaim: {claimName}}
  const stop = built.spec.stopTimeoutSeconds ?? 10

  const deployment: KubernetesObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {labels, name: options.name},
    spec: {
      replicas: options.replicas,
      selector: {matchLabels: selector},
      // One shared ReadWriteOnce claim cannot be mounted by the old and the new pod on two nodes at once.
      strategy: {type: options.replicas === 1 && !options.perPodWorkspace ? 'Recreate' : 'RollingUpdate'},
      template: {
        metadata: {labels},
        spec: {
          containers: [
            {
              envFrom: [{configMapRef: {name: configName}}, {secretRef: {name: secretName}}],
              image: pinnedReference(image.ref, image.digest),
              imagePullPolicy: 'IfNotPresent',
              name: CONTAINER,
              ...probes(image.healthcheck),
              resources: {requests: {cpu: options.cpuRequest, memory: options.memoryRequest}},
              securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}},
              volumeMounts: [{mountPath: WORKSPACE, name: 'workspace'}],
            },
          ],
          securityContext: {
            fsGroup: RUNNER_UID,
            runAsGroup: RUNNER_UID,
            runAsNonRoot: true,
            runAsUser: RUNNER_UID,
            seccompProfile: {type: 'RuntimeDefault'},
          },
          terminationGracePeriodSeconds: stop,
          volumes: [workspaceVolume],
        },
      },
    },
  }
  const objects = [configMap, secret, ...(options.perPodWorkspace ? [] : [claim]), deployment]
  return {objects, secretNames}
}

function secretComment(name: string, secretNames: readonly string[], included: boolean): string {
  if (secretNames.length === 0) return ' No secret variables were set when this was exported; add keys here if needed.'
  if (included) return ' Holds secret values (exported with --include-secrets): keep this file private.'
  const literals = secretNames.map((n) => `--from-literal=${n}="$${n}"`).join(' ')
  return [
    ' Secret values are not exported (use --include-secrets to write them). Fill them from your',
    ' environment without putting them in a file:',
    `   kubectl create secret generic ${name} ${literals} --dry-run=client -o yaml | kubectl apply -f -`,
  ].join('\n')
}

function yamlText(value: unknown, comment?: string): string {
  // YAML 1.1 rules for quoting: Compose v1 (PyYAML) and kubectl (go-yaml) read 1000:1000 or yes unquoted as numbers and booleans.
  const doc = new Document(value, {aliasDuplicateObjects: false, version: '1.1'})
  if (comment) doc.commentBefore = comment
  // "1000:1000" reads as a string everywhere, but say so: the Compose Specification writes it quoted.
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === 'user' && isScalar(pair.value)) pair.value.type = 'QUOTE_DOUBLE'
    },
  })
  return doc.toString({lineWidth: 0})
}

// ---------------------------------------------------------------- Compose

export interface ComposeProject {
  readonly services: Record<string, Record<string, unknown>>
  readonly volumes: Record<string, Record<string, unknown>>
}

/** One service with the spec of `server start`, in the Compose Specification. */
/* eslint-disable camelcase -- the Compose Specification's own key names */
export function composeProject(
  built: ServerSpec,
  image: ExportImage,
  options: ExportOptions,
): {envFile: string | undefined; project: ComposeProject; secretNames: string[]} {
  const env = built.spec.env
  const names = Object.keys(env).sort()
  const secretNames = names.filter((n) => isSecretName(n))
  const envFile = secretNames.length > 0 ? secretEnvFileName(options.name) : undefined
  const hc = image.healthcheck
  const extraHosts = Object.entries(built.spec.extraHosts ?? {}).map(([host, address]) => `${host}:${address}`)
  const service: Record<string, unknown> = {
    image: pinnedReference(image.ref, image.digest),
    user: `${RUNNER_UID}:${RUNNER_UID}`,
    ...(envFile ? {env_file: [envFile]} : {}),
    environment: Object.fromEntries(names.filter((n) => !isSecretName(n)).map((n) => [n, env[n]!])),
    volumes: [{source: 'workspace', target: WORKSPACE, type: 'volume'}],
    ...(hc && hc.test.length > 0
      ? {
          healthcheck: {
            interval: composeDuration(hc.intervalMs || 30_000),
            retries: hc.retries || 3,
            test: ['CMD', ...hc.test],
            timeout: composeDuration(hc.timeoutMs || 30_000),
            ...(hc.startPeriodMs ? {start_period: composeDuration(hc.startPeriodMs)} : {}),
          },
        }
      : {}),
    stop_signal: 'SIGTERM',
    stop_grace_period: `${built.spec.stopTimeoutSeconds ?? 10}s`,
    network_mode: built.spec.network,
    ...(extraHosts.length > 0 ? {extra_hosts: extraHosts} : {}),
    restart: built.spec.restartPolicy ?? 'unless-stopped',
    labels: {
      'io.stigmer.managed': 'export',
      'io.stigmer.network-reason': built.network.reason,
    },
    ...(options.replicas > 1 ? {deploy: {replicas: options.replicas}} : {}),
  }
  return {envFile, project: {services: {[CONTAINER]: service}, volumes: {workspace: {}}}, secretNames}
}
/* eslint-enable camelcase */

function composeComment(envFile: string | undefined, secretNames: readonly string[], included: boolean): string {
  const lines = [' Exported by `stigmer server export --format compose`: the container `stigmer server start` runs.']
  if (envFile && !included) {
    lines.push(
      ` ${envFile} holds the secret variables and is not written by the export (--include-secrets writes it).`,
      ' Create it from your environment before `docker compose up`:',
      `   (umask 077; ${secretNames.map((n) => `printf '${n}=%s\\n' "$${n}"`).join('; ')}) > ${envFile}`,
    )
  }

  return lines.join('\n')
}

// ---------------------------------------------------------------- rendering

/** The export as file contents: pure, no file written. */
export function renderExport(built: ServerSpec, image: ExportImage, options: ExportOptions): RenderedExport {
  const warnings: string[] = []
  if (!image.healthcheck)
    warnings.push(`The image ${image.ref} has no health check: the export has no readiness or liveness check.`)
  if (!image.digest)
    warnings.push(
      `The image ${image.ref} has no registry digest here (never pulled from or pushed to a registry): it is referenced by tag.`,
    )

  if (options.format === 'kubernetes') {
    checkClusterAddresses(built)
    const env = clusterEnvironment(built)
    for (const name of ['STIGMER_LLM_BASE_URL'])
      if (env[name] && isHostLocalAddress(env[name]!))
        warnings.push(`${name}=${env[name]} names this machine: pods will not reach it there.`)
    const {objects, secretNames} = kubernetesObjects(built, image, options)
    const docs = objects.map((object) => {
      const isSecret = object.kind === 'Secret'
      const content = yamlText(
        object,
        isSecret ? secretComment(object.metadata.name, secretNames, options.includeSecrets) : undefined,
      )
      return {
        content,
        name: `${object.kind.toLowerCase()}.yaml`,
        secret: isSecret && options.includeSecrets && secretNames.length > 0,
      }
    })
    return {
      combined: {
        content: docs.map((d) => d.content).join('---\n'),
        name: `${options.name}.yaml`,
        secret: docs.some((d) => d.secret),
      },
      files: docs,
      format: 'kubernetes',
      objects: objects.map((o) => ({kind: o.kind, name: o.metadata.name})),
      secretNames,
      warnings,
    }
  }

  const {envFile, project, secretNames} = composeProject(built, image, options)
  const compose: ExportFile = {
    content: yamlText(project, composeComment(envFile, secretNames, options.includeSecrets)),
    name: 'compose.yaml',
    secret: false,
  }
  const files: ExportFile[] = [compose]
  if (envFile) {
    const env = built.spec.env
    files.push({
      content: options.includeSecrets ? secretNames.map((n) => `${n}=${env[n]}\n`).join('') : '',
      name: envFile,
      placeholder: !options.includeSecrets,
      secret: options.includeSecrets,
    })
  }

  return {
    combined: compose,
    files,
    format: 'compose',
    objects: [
      {kind: 'service', name: CONTAINER},
      {kind: 'volume', name: 'workspace'},
      ...(envFile ? [{kind: 'env_file', name: envFile}] : []),
    ],
    secretNames,
    warnings,
  }
}

// ---------------------------------------------------------------- writing

export interface WrittenFile {
  readonly path: string
  readonly mode: string
  readonly secret: boolean
}

function writeOne(path: string, file: ExportFile): WrittenFile {
  const mode = file.secret ? 0o600 : 0o644
  writeFileSync(path, file.content, {mode})
  // The mode of writeFileSync applies only to a new file: make an existing one private too.
  chmodSync(path, mode)
  return {mode: mode.toString(8).padStart(4, '0'), path, secret: file.secret}
}

/**
 * Writes the export. An existing folder (or a path ending in /) gets one file
 * per object; anything else is the file to write (Compose: its env file goes
 * beside it).
 */
export function writeExport(rendered: RenderedExport, output: string): {files: WrittenFile[]; named: string[]} {
  const target = resolve(output)
  const isDir = /[/\\]$/.test(output) || (existsSync(target) && statSync(target).isDirectory())
  const dir = isDir ? target : dirname(target)
  mkdirSync(dir, {recursive: true})
  const written: WrittenFile[] = []
  const named: string[] = []
  if (rendered.format === 'kubernetes') {
    if (isDir) for (const file of rendered.files) written.push(writeOne(join(dir, file.name), file))
    else written.push(writeOne(target, rendered.combined))
    return {files: written, named}
  }

  const composePath = isDir ? join(dir, rendered.combined.name) : target
  written.push(writeOne(composePath, rendered.combined))
  for (const file of rendered.files.slice(1)) {
    if (file.placeholder) named.push(join(dir, file.name))
    else written.push(writeOne(join(dir, basename(file.name)), file))
  }

  return {files: written, named}
}

// ---------------------------------------------------------------- the command's service

export type ExportRequest = Pick<
  StartRequest,
  | 'configEnv'
  | 'envFlags'
  | 'extraEnv'
  | 'gid'
  | 'hostEnv'
  | 'image'
  | 'json'
  | 'network'
  | 'paths'
  | 'platform'
  | 'pull'
  | 'pullTimeoutMs'
  | 'runtime'
  | 'signal'
  | 'ui'
  | 'uid'
  | 'workspace'
> & {readonly options: ExportOptions; readonly output: string | undefined}

export interface ExportResult {
  readonly format: ExportFormat
  readonly image: string
  readonly imageDigest: string | undefined
  readonly network: string
  readonly networkReason: string
  readonly objects: readonly ExportObject[]
  /** Files written, with their modes. */
  readonly files: readonly WrittenFile[]
  /** Files the export refers to but did not write (the Compose env file without --include-secrets). */
  readonly filesToCreate: readonly string[]
  /** Secret variables, by name only. */
  readonly secretNames: readonly string[]
  readonly secretsIncluded: boolean
  readonly warnings: readonly string[]
  /** The manifest itself, when it went to stdout and holds no secret value. */
  readonly content?: string
}

/**
 * Builds the spec as `server start` would on this engine, reads the image's
 * digest and health check, and renders (and, with an output path, writes) it.
 * Returns the rendering too, for a command that prints it.
 */
export async function exportServer(req: ExportRequest): Promise<{rendered: RenderedExport; result: ExportResult}> {
  const {options, runtime, ui} = req
  if (options.includeSecrets && !req.output && (req.json || options.format === 'compose'))
    throw usageError(
      req.json
        ? '--include-secrets with --json needs --output: secret values never go to stdout under --json.'
        : '--include-secrets with --format compose needs --output: the secrets go to an env file beside the compose file.',
      ['Add --output DIR (or a file name).'],
    )
  ui.start(`Engine: ${runtime.displayName}`)
  const engine = await runtime.info()
  ui.succeed(`${engine.name} ${engine.version}`)
  const {image} = await ensureImage(req)
  const platform = req.platform ?? process.platform
  const uid = req.uid ?? (typeof process.getuid === 'function' ? process.getuid() : undefined)
  const gid = req.gid ?? (typeof process.getgid === 'function' ? process.getgid() : undefined)
  const built = buildServerSpec({...req, engine, gid, imageUser: image.user, platform, runtime, uid})
  const exportImage = exportImageOf(req.image.ref, image)
  const rendered = renderExport(built, exportImage, options)
  for (const warning of rendered.warnings) ui.warn(warning)
  const written = req.output ? writeExport(rendered, req.output) : {files: [], named: []}
  return {
    rendered,
    result: {
      files: written.files,
      filesToCreate: written.named,
      format: options.format,
      image: pinnedReference(exportImage.ref, exportImage.digest),
      imageDigest: exportImage.digest,
      network: options.format === 'compose' ? built.network.mode : 'pod',
      networkReason:
        options.format === 'compose'
          ? built.network.reason
          : 'Kubernetes: the pod network (addresses must be reachable from pods)',
      objects: rendered.objects,
      secretNames: rendered.secretNames,
      secretsIncluded: options.includeSecrets,
      warnings: rendered.warnings,
    },
  }
}

export function exportImageOf(ref: string, image: ImageInfo): ExportImage {
  return {
    digest: repoDigest(image.digests, ref),
    healthcheck: image.healthcheck,
    ref,
    version: imageVersion(ref, image.labels),
  }
}

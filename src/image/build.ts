import {existsSync, statSync} from 'node:fs'
import {isAbsolute, join, resolve} from 'node:path'

import type {BuildResult, BuildStep, ContainerRuntime, ImageInfo, ProgressEvent} from '../engine/types.js'

import {parseBuildStep} from '../engine/build-step.js'
import {capabilitiesOf} from '../engine/capabilities.js'
import {RuntimeError} from '../engine/errors.js'
import {InterruptedError, StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'
import {formatBytes} from '../lib/format.js'
import {addSecret, isSecretName, redact} from '../lib/redact.js'
import {stripEscapes} from '../lib/terminal.js'
import {displayPath, stageBuildContext, type StagedContext} from './context.js'
import {gitInfo, type GitInfo} from './git.js'
import {contextPath, readRunnerProject, runnerCommand, type RunnerProject} from './runner-project.js'
import {buildTags, parseReleaseVersion, type ReleaseVersion} from './tags.js'

/** The OCI labels `image build` records (and `image push` / `server status` read). */
export const OCI = {
  created: 'org.opencontainers.image.created',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  version: 'org.opencontainers.image.version',
} as const

/** The label that records the entry point `image build` chose (its argv in the image, space-separated). */
export const ENTRYPOINT_LABEL = 'io.stigmer.entrypoint'

/** Build arguments stigmer derives from the project; --build-arg cannot set them (they would contradict it). */
const DERIVED_ARGS: Readonly<Record<string, string>> = {
  APP_DIR: 'it is where --source sits in the build context',
  PATH_DEPS: "it is read from the project's pyproject.toml",
  RUNNER_COMMAND: 'choose the entry point with --entrypoint',
}

export interface BuildRequest {
  /** --source */
  readonly sourceDir: string
  /** --file */
  readonly file?: string | undefined
  /** The CLI's install folder (this.config.root): docker/Dockerfile lives there. */
  readonly cliRoot: string
  /** --tag */
  readonly tags?: readonly string[] | undefined
  /** --build-arg, as given (K=V or K to take it from the environment). */
  readonly buildArgs?: readonly string[] | undefined
  /** --platform, as given (each may be comma-separated). */
  readonly platforms?: readonly string[] | undefined
  /** --version */
  readonly version?: string | undefined
  /** --entrypoint */
  readonly entrypoint?: string | undefined
  readonly noCache?: boolean | undefined
  readonly env?: NodeJS.ProcessEnv
  /** For CREATED; SOURCE_DATE_EPOCH in env wins (reproducible builds). */
  readonly now?: Date
}

/** Everything decided before the engine is touched: validated, so a usage error never leaves anything behind. */
export interface BuildPlan {
  readonly sourceDir: string
  readonly dockerfile: string
  /** Why this Dockerfile: '--file' or 'cli'. */
  readonly dockerfileFrom: 'cli' | '--file'
  readonly tags: readonly string[]
  readonly buildArgs: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly platforms: readonly string[]
  readonly version: ReleaseVersion | undefined
  readonly git: GitInfo | undefined
  readonly created: string
  readonly noCache: boolean
  /** What the project is and how it installs; undefined for a --file Dockerfile's own context rules only. */
  readonly project: RunnerProject
  /** docker/install.sh and docker/healthcheck.py, staged into the context for the CLI's Dockerfile. */
  readonly supportFiles: readonly string[]
}

const BUILD_ARG_NAME = /^[A-Za-z_]\w*$/
const PLATFORM = /^[a-z\d]+\/[a-z\d_]+(?:\/[a-z\d]+)?$/

/** --build-arg K=V (or K, taken from the environment like docker build does). Later values win. */
export function parseBuildArgs(
  values: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const value of values) {
    const eq = value.indexOf('=')
    const name = eq === -1 ? value : value.slice(0, eq)
    if (!BUILD_ARG_NAME.test(name)) {
      throw usageError(
        `--build-arg "${eq === -1 ? value : `${name}=...`}" is not NAME=value with NAME made of letters, digits and _.`,
        ['Example: --build-arg BASE_IMAGE=python:3.11-slim'],
      )
    }

    const arg: string | undefined = eq === -1 ? env[name] : value.slice(eq + 1)
    if (arg === undefined)
      throw usageError(`--build-arg ${name} has no value and ${name} is not set in the environment.`, [
        `Pass --build-arg ${name}=value.`,
      ])
    if (Object.hasOwn(DERIVED_ARGS, name)) throw usageError(`--build-arg ${name} cannot be set: ${DERIVED_ARGS[name]}.`)
    if (name === 'VERSION')
      throw usageError(
        'Set the version with --version X.Y.Z, not --build-arg VERSION: it is validated and also tags the image.',
      )
    if (isSecretName(name)) addSecret(arg)
    out[name] = arg
  }

  return out
}

/** --platform linux/amd64,linux/arm64 (or repeated): validated, de-duplicated, in the order given. */
export function parsePlatforms(values: readonly string[]): string[] {
  const out: string[] = []
  for (const value of values) {
    for (const raw of value.split(',')) {
      const platform = raw.trim().toLowerCase()
      if (platform === '') continue
      if (!PLATFORM.test(platform)) {
        throw usageError(`--platform "${raw.trim()}" is not os/arch[/variant].`, [
          'Examples: linux/amd64, linux/arm64, linux/arm/v7.',
        ])
      }

      if (!out.includes(platform)) out.push(platform)
    }
  }

  return out
}

/**
 * Which Dockerfile: --file when given, else the CLI's docker/Dockerfile, the
 * agent-runner image definition. A Dockerfile in the project is not picked up
 * by itself: the real agent-runner ships one that expects the repository root
 * as its context and checks no Temporal connection, so it cannot keep the
 * image contract (docs/docker.md); --file builds with it all the same.
 */
export function chooseDockerfile(options: {
  cliRoot: string
  file?: string | undefined
  sourceDir: string
}): Pick<BuildPlan, 'dockerfile' | 'dockerfileFrom'> {
  if (options.file) {
    const file = resolve(options.file)
    if (!existsSync(file) || !statSync(file).isFile()) throw usageError(`--file ${options.file}: no such file.`)
    return {dockerfile: file, dockerfileFrom: '--file'}
  }

  const ours = join(options.cliRoot, 'docker', 'Dockerfile')
  if (!existsSync(ours)) {
    throw new StigmerError(`This installation of stigmer has no ${ours}.`, {
      code: 'BUILD_FAILED',
      exit: ExitCode.BUILD_FAILED,
      kind: 'bug',
      suggestions: ['Pass --file path/to/Dockerfile, or reinstall stigmer.'],
    })
  }

  return {dockerfile: ours, dockerfileFrom: 'cli'}
}

/** RFC 3339, second precision, UTC; SOURCE_DATE_EPOCH wins so a rebuild of the same commit can be identical. */
export function createdTime(env: NodeJS.ProcessEnv, now: Date = new Date()): string {
  const epoch = env.SOURCE_DATE_EPOCH
  const date = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : now
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Validates every flag and reads git: no engine, nothing written. */
export async function planBuild(request: BuildRequest): Promise<BuildPlan> {
  const env = request.env ?? process.env
  const sourceDir = resolve(request.sourceDir)
  if (!existsSync(sourceDir) || !statSync(sourceDir).isDirectory()) {
    throw usageError(`--source ${request.sourceDir}: no such folder.`, [
      'Point --source at the agent-runner project (the folder with pyproject.toml).',
    ])
  }

  const version = request.version === undefined ? undefined : parseReleaseVersion(request.version)
  const buildArgs = parseBuildArgs(request.buildArgs ?? [], env)
  const platforms = parsePlatforms(request.platforms ?? [])
  const project = readRunnerProject(sourceDir, {entrypoint: request.entrypoint})
  const {dockerfile, dockerfileFrom} = chooseDockerfile({cliRoot: request.cliRoot, file: request.file, sourceDir})
  const git = await gitInfo(sourceDir, env)
  const tags = buildTags({extra: request.tags ?? [], revision: git?.revision, version})
  const created = createdTime(env, request.now)
  const command = runnerCommand(project)
  const stamped: Record<string, string> = {
    APP_DIR: project.appDir,
    CREATED: created,
    INSTALLER: project.installer,
    PATH_DEPS: project.pathDeps.map((d) => contextPath(project, d.dir)).join(' '),
    RUNNER_COMMAND: command,
  }
  if (version) stamped.VERSION = version.version
  if (git) stamped.REVISION = git.revision
  if (git?.remote) stamped.SOURCE = git.remote
  // The user's --build-arg REVISION/CREATED/SOURCE win over ours (VERSION is refused above).
  const args = {...stamped, ...buildArgs}
  const labels: Record<string, string> = {[ENTRYPOINT_LABEL]: command, [OCI.created]: args.CREATED!}
  if (args.REVISION) labels[OCI.revision] = args.REVISION
  if (args.SOURCE) labels[OCI.source] = args.SOURCE
  if (version) labels[OCI.version] = version.version
  return {
    buildArgs: args,
    created,
    dockerfile,
    dockerfileFrom,
    git,
    labels,
    noCache: request.noCache ?? false,
    platforms,
    project,
    sourceDir: project.dir,
    supportFiles: ['install.sh', 'healthcheck.py'].map((f) => join(request.cliRoot, 'docker', f)),
    tags,
    version,
  }
}

/** What the build says about the project before it starts: installer, entry point, path dependencies. */
export function describeProject(plan: BuildPlan): string[] {
  const {project} = plan
  const lines = [
    `Installer: ${plan.buildArgs.INSTALLER} (${project.installerReason})`,
    `Entry point: ${plan.buildArgs.RUNNER_COMMAND} (${project.entry.reason})`,
  ]
  for (const dep of project.pathDeps)
    lines.push(`Path dependency: ${dep.name} = "${dep.declared}" -> ${contextPath(project, dep.dir)} in the context`)
  return lines
}

/** The build context for a plan: the source at APP_DIR, each path dependency outside it at its place, the support files. */
export function stageContextFor(plan: BuildPlan, signal?: AbortSignal, into?: string): Promise<StagedContext> {
  const {project} = plan
  return stageBuildContext({
    ...(into ? {into} : {}),
    appDir: project.appDir,
    dockerfile: plan.dockerfile,
    extraDirs: project.outside.map((d) => ({at: contextPath(project, d.dir), dir: d.dir})),
    sourceDir: plan.sourceDir,
    supportFiles: plan.supportFiles,
    ...(signal ? {signal} : {}),
  })
}

/** What the build view is told. */
export type BuildEvent = {kind: 'line'; line: string} | {kind: 'note'; text: string} | {kind: 'step'; step: string}

export interface BuildOutcome {
  readonly id: string
  readonly tags: readonly string[]
  readonly platforms: readonly string[]
  readonly manifestList: boolean
  /** Image size on disk per platform (bytes), where the engine reports it. */
  readonly sizes: Readonly<Record<string, number>>
  readonly dockerfile: string
  readonly dockerfileFrom: BuildPlan['dockerfileFrom']
  readonly source: string
  readonly revision: string | undefined
  readonly dirty: boolean | undefined
  readonly version: string | undefined
  readonly created: string
  readonly buildArgs: Readonly<Record<string, string>>
  readonly context: {bytes: number; files: number; ignored: number; ignoreFiles: readonly string[]}
  readonly runtime: string
  readonly durationMs: number
  /** The entry point's argv in the image, and why it was chosen. */
  readonly entrypoint: {command: string; reason: string}
  readonly installer: string
  /** Where --source sits in the context, and the path dependencies staged beside it (context paths). */
  readonly appDir: string
  readonly pathDeps: readonly string[]
}

/** Noise the engines print between steps, which says nothing a person needs. */
const NOISE =
  /^(?:-{2,3}> |Removing intermediate container|Successfully built|Successfully tagged|(?:\[\d+\/\d+\] )?COMMIT |[\da-f]{64}$|Getting image source signatures|Copying (?:blob|config)|Writing manifest|Storing signatures)/

/**
 * Stages the context, builds, and removes the staged folder whatever happens
 * (error, Ctrl-C). A failed step becomes BUILD_FAILED (22) naming the step,
 * its instruction and its last output lines.
 */
export async function buildImage(
  runtime: ContainerRuntime,
  plan: BuildPlan,
  options: {onEvent?: (event: BuildEvent) => void; signal?: AbortSignal} = {},
): Promise<BuildOutcome> {
  const started = Date.now()
  const emit = options.onEvent ?? (() => {})
  if (plan.git?.dirty)
    emit({
      kind: 'note',
      text: `${displayPath(plan.sourceDir)} has uncommitted changes: the image is tagged ${plan.tags[1] ?? ''} but is not exactly that commit.`,
    })
  const staged = await stageContextFor(plan, options.signal)
  const rules =
    staged.ignoreFiles.length > 0
      ? `${staged.ignored} left out by ${staged.ignoreFiles.map((f) => displayPath(f)).join(' + ')}`
      : 'no .dockerignore'
  emit({
    kind: 'note',
    text: `Context: ${staged.files} file${staged.files === 1 ? '' : 's'}, ${formatBytes(staged.bytes)} (${rules})`,
  })
  const tail: string[] = []
  let step: BuildStep | undefined
  let result: BuildResult
  try {
    result = await runtime.buildImage({
      buildArgs: plan.buildArgs,
      contextDir: staged.dir,
      dockerfile: staged.dockerfile,
      labels: plan.labels,
      noCache: plan.noCache,
      onProgress(event: ProgressEvent) {
        if (event.kind === 'step') {
          step = event.step
          tail.length = 0
          emit({kind: 'step', step: event.step.line})
        } else if (event.kind === 'build-output' || event.kind === 'status') {
          const line = event.kind === 'build-output' ? event.line : event.message
          if (NOISE.test(line.trim())) return
          tail.push(line)
          if (tail.length > 50) tail.shift()
          emit({kind: 'line', line})
        }
      },
      platforms: plan.platforms,
      tags: plan.tags,
      ...(options.signal ? {signal: options.signal} : {}),
    })
  } catch (error) {
    if (options.signal?.aborted) throw new InterruptedError('Build interrupted')
    throw buildFailure(error, runtime, plan, {step, tail})
  } finally {
    await staged.cleanup()
  }

  const info = await runtime.inspectImage(result.tags[0] ?? result.id).catch(() => {})
  return buildOutcome(plan, {durationMs: Date.now() - started, info: info ?? undefined, result, runtime, staged})
}

/** What `image build` reports (and prints under --json): the plan, the context, and the image as the engine has it. */
function buildOutcome(
  plan: BuildPlan,
  built: {
    durationMs: number
    info: ImageInfo | undefined
    result: BuildResult
    runtime: ContainerRuntime
    staged: Pick<StagedContext, 'bytes' | 'files' | 'ignoreFiles' | 'ignored'>
  },
): BuildOutcome {
  const {info, result, staged} = built
  const {project} = plan
  const sizes: Record<string, number> = {}
  if (info && !result.manifestList)
    sizes[`${info.os}/${info.architecture}${info.variant ? `/${info.variant}` : ''}`] = info.size
  return {
    appDir: project.appDir,
    buildArgs: plan.buildArgs,
    context: {bytes: staged.bytes, files: staged.files, ignored: staged.ignored, ignoreFiles: staged.ignoreFiles},
    created: plan.created,
    dirty: plan.git?.dirty,
    dockerfile: plan.dockerfile,
    dockerfileFrom: plan.dockerfileFrom,
    durationMs: built.durationMs,
    entrypoint: {command: plan.buildArgs.RUNNER_COMMAND ?? '', reason: project.entry.reason},
    id: result.manifestList ? result.id : (info?.id ?? result.id),
    installer: plan.buildArgs.INSTALLER ?? project.installer,
    manifestList: result.manifestList,
    pathDeps: project.pathDeps.map((d) => contextPath(project, d.dir)),
    platforms: result.platforms.length > 0 ? result.platforms : info ? Object.keys(sizes) : [],
    revision: plan.git?.revision,
    runtime: built.runtime.name,
    sizes,
    source: plan.sourceDir,
    tags: result.tags,
    version: plan.version?.version,
  }
}

/** Build output can carry colours, carriage returns, tabs and other escapes: keep one printable line. */
export function cleanLine(line: string): string {
  const last = redact(line)
    .split('\r')
    .findLast((part) => stripEscapes(part).trim() !== '')
  return last === undefined ? '' : stripEscapes(last.replaceAll('\t', '  ')).replaceAll('\n', '')
}

/** "Step 3/9 : RUN x" -> "step 3/9"; "[2/2] STEP 3/5: RUN x" -> "step 3/5 of stage 2/2". */
export function stepLabel(step: BuildStep): string {
  return step.stage ? `step ${step.number} of stage ${step.stage}` : `step ${step.number}`
}

/** `docker build ...` as a user would type it against the source folder, for the "failed command" line. */
function quote(s: string): string {
  return /^[\w./:=@,+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`
}

export function manualBuildCommand(
  runtime: Pick<ContainerRuntime, 'capabilities' | 'cli' | 'hostGatewayName' | 'name'>,
  plan: BuildPlan,
): string {
  const parts = [runtime.cli, 'build', '-f', quote(plan.dockerfile), ...capabilitiesOf(runtime).manualBuildFlags]
  for (const [k, v] of Object.entries(plan.buildArgs))
    if (k !== 'CREATED') parts.push('--build-arg', quote(`${k}=${v}`))
  if (plan.platforms.length > 0) parts.push('--platform', plan.platforms.join(','))
  parts.push(
    '-t',
    quote(plan.tags[0]!),
    quote(isAbsolute(plan.sourceDir) ? displayPath(plan.sourceDir) : plan.sourceDir),
  )
  return parts.join(' ')
}

/** A build the engine could not run at all (not a failed step): unsupported, or the engine went away. */
function engineBuildFailure(error: RuntimeError, runtime: ContainerRuntime, plan: BuildPlan): StigmerError | undefined {
  if (error.reason === 'unsupported') {
    return new StigmerError(error.message, {
      cause: error,
      code: 'BUILD_UNSUPPORTED',
      exit: ExitCode.BUILD_FAILED,
      kind: 'user',
      suggestions: [
        plan.platforms.length > 1
          ? `Build one platform at a time (--platform ${plan.platforms[0]}), or use --runtime podman.`
          : 'Use --runtime podman.',
      ],
    })
  }

  if (error.reason === 'unreachable' || error.reason === 'permission') {
    return new StigmerError(`${runtime.displayName} stopped answering during the build: ${error.message}`, {
      cause: error,
      code: 'BUILD_FAILED',
      exit: ExitCode.BUILD_FAILED,
      kind: 'external',
    })
  }

  return undefined
}

function buildFailure(
  error: unknown,
  runtime: ContainerRuntime,
  plan: BuildPlan,
  seen: {step: BuildStep | undefined; tail: readonly string[]},
): StigmerError {
  if (error instanceof StigmerError) return error
  const manual = manualBuildCommand(runtime, plan)
  const engineFailure = error instanceof RuntimeError ? engineBuildFailure(error, runtime, plan) : undefined
  if (engineFailure) return engineFailure

  const reported = error instanceof RuntimeError && error.step ? parseBuildStep(error.step) : undefined
  const step = reported ?? seen.step
  const output = ((error instanceof RuntimeError ? error.output : undefined) ?? seen.tail.join('\n'))
    .split('\n')
    .map((l) => cleanLine(l))
    .filter((l) => l.trim() !== '' && !NOISE.test(l.trim()) && !parseBuildStep(l))
    .slice(-25)
  const message = error instanceof Error ? error.message.trim() : String(error)
  const where = step ? ` at ${stepLabel(step)}` : ''
  return new StigmerError(`The image build failed${where}: ${message}`, {
    cause: error,
    code: 'BUILD_FAILED',
    command: step ? step.instruction : manual,
    data: {output, step: step ?? null},
    details:
      output.length > 0 ? `Last output of ${step ? 'that step' : 'the build'}:\n${output.join('\n')}` : undefined,
    exit: ExitCode.BUILD_FAILED,
    kind: 'external',
    suggestions: [
      ...(step ? [`The failing instruction is in ${displayPath(plan.dockerfile)}.`] : []),
      `To reproduce by hand: ${manual}`,
      ...(plan.noCache ? [] : ['If a cached layer is stale, retry with --no-cache.']),
    ],
  })
}

/**
 * The shared harness for tests that use the real container lab (scripts/lab.sh):
 * what the lab offers, whether its engines answer, adapters pointed at them,
 * the built CLI as a child process, unique names, and cleanup of everything a
 * test creates.
 *
 * Rules it enforces: under CI=true an engine the suite needs that does not
 * answer is a failure, never a skip; outside CI it is a loud skip.
 */
/* eslint-disable mocha/no-exports, mocha/no-top-level-hooks, mocha/no-sibling-hooks --
   A helper module, not a test file: it exports the harness and registers the cleanup hooks. */
import {spawn} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {RuntimeContext} from '../../src/adapters/providers.js'
import type {ContainerRuntime, Endpoint} from '../../src/engine/types.js'

import {DockerAdapter} from '../../src/adapters/docker.js'
import {PodmanAdapter} from '../../src/adapters/podman.js'
import {currentMachine} from '../../src/engine/detection/machine.js'
import {probeEndpoint} from '../../src/engine/detection/probe.js'

export type EngineName = 'docker' | 'podman'

/** The repository root (where bin/run.js and dist/ are). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** True when running in CI: nothing may skip there. */
export const IN_CI = process.env.CI === 'true'

/** What scripts/lab.sh provisioned, read from its lab.env. */
export interface Lab {
  readonly envFile: string
  readonly dockerSock: string | undefined
  readonly podmanSock: string | undefined
  /** host:port of the htpasswd registry. */
  readonly registry: string | undefined
  readonly registryUser: string | undefined
  readonly registryPassword: string | undefined
  readonly busybox: string
  readonly busyboxArm64: string | undefined
  readonly python: string | undefined
  readonly pythonBuilder: string | undefined
  readonly engines: readonly EngineName[]
  /** An unprivileged user (in the docker group) for permission tests. */
  readonly testUser: string | undefined
  /** qemu binfmt is set up: arm64 containers run under emulation. */
  readonly qemu: boolean
}

/** Where lab.sh writes its env file: STIGMER_LAB_ENV_FILE, else root's or the user's state dir. */
export function labEnvFile(): string {
  if (process.env.STIGMER_LAB_ENV_FILE) return process.env.STIGMER_LAB_ENV_FILE
  const root = '/var/lib/stigmer-lab/lab.env'
  if (process.getuid?.() === 0 || existsSync(root)) return root
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'stigmer-lab', 'lab.env')
}

/** Parses a shell-sourceable KEY=value file (lab.env): comments, blank lines, single or double quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^(?:export\s+)?([A-Za-z_]\w*)=(.*)$/.exec(line)
    if (!match) continue
    let value = match[2]!.trim()
    if (
      value.length >= 2 &&
      ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
    ) {
      value = value.slice(1, -1)
    }

    out[match[1]!] = value
  }

  return out
}

let cachedLab: Lab | undefined

/**
 * Reads the lab description. Throws, saying what to run, when the lab is not
 * provisioned. Values in the environment (STIGMER_LAB_*) win over the file.
 */
export function loadLab(): Lab {
  if (cachedLab) return cachedLab
  const envFile = labEnvFile()
  if (!existsSync(envFile)) {
    throw new Error(
      `The container lab is not provisioned: ${envFile} does not exist. Run \`sudo bash scripts/lab.sh\` (or \`npm test\`, which runs it) first.`,
    )
  }

  const vars = parseEnvFile(readFileSync(envFile, 'utf8'))
  const get = (name: string): string | undefined => {
    const value = process.env[name] ?? vars[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }

  const busybox = get('STIGMER_LAB_BUSYBOX')
  if (!busybox) throw new Error(`${envFile} names no STIGMER_LAB_BUSYBOX image: re-run scripts/lab.sh.`)
  const passwordFile = get('STIGMER_LAB_REGISTRY_PASSWORD_FILE')
  let registryPassword: string | undefined
  if (passwordFile) {
    try {
      registryPassword = readFileSync(passwordFile, 'utf8').trim()
    } catch (error) {
      throw new Error(`Cannot read the lab registry password from ${passwordFile}: ${(error as Error).message}`)
    }
  }

  const engines = (get('STIGMER_LAB_ENGINES') ?? '')
    .split(/[\s,]+/)
    .filter((e): e is EngineName => e === 'docker' || e === 'podman')
  cachedLab = {
    busybox,
    busyboxArm64: get('STIGMER_LAB_BUSYBOX_ARM64'),
    dockerSock: get('STIGMER_LAB_DOCKER_SOCK'),
    engines,
    envFile,
    podmanSock: get('STIGMER_LAB_PODMAN_SOCK'),
    python: get('STIGMER_LAB_PYTHON'),
    pythonBuilder: get('STIGMER_LAB_PYTHON_BUILDER'),
    qemu: get('STIGMER_LAB_QEMU') === '1' || get('STIGMER_LAB_QEMU') === 'true',
    registry: get('STIGMER_LAB_REGISTRY'),
    registryPassword,
    registryUser: get('STIGMER_LAB_REGISTRY_USER'),
    testUser: get('STIGMER_LAB_TEST_USER'),
  }
  return cachedLab
}

const DEFAULT_SOCKETS: Record<EngineName, string> = {docker: '/var/run/docker.sock', podman: '/run/podman/podman.sock'}

function computeEngines(): Array<{name: EngineName; socket: string}> {
  let lab: Lab | undefined
  try {
    lab = loadLab()
  } catch {
    lab = undefined
  }

  // No lab: still declare both engines, so requireEngines() fails (CI) or skips loudly instead of
  // the engine suites silently having no tests at all.
  // Under CI both built-in engines must run, whatever the lab managed to start.
  const names: readonly EngineName[] = lab ? lab.engines : ['docker', 'podman']
  const wanted = IN_CI ? [...new Set<EngineName>(['docker', 'podman', ...names])] : names
  return wanted.map((name) => ({
    name,
    socket: (name === 'docker' ? lab?.dockerSock : lab?.podmanSock) ?? DEFAULT_SOCKETS[name],
  }))
}

/** The engines the lab provides (STIGMER_LAB_ENGINES) and their sockets. */
export const ENGINES: Array<{name: EngineName; socket: string}> = computeEngines()

export function engineSocket(name: EngineName): string {
  const engine = ENGINES.find((e) => e.name === name)
  if (!engine)
    throw new Error(`The lab provides no ${name} (STIGMER_LAB_ENGINES=${ENGINES.map((e) => e.name).join(' ')}).`)
  return engine.socket
}

export function engineEndpoint(name: EngineName): Endpoint {
  return {source: `lab ${name}`, url: `unix://${engineSocket(name)}`}
}

const availability = new Map<EngineName, Promise<{detail: string; ok: boolean}>>()

async function checkEngine(name: EngineName): Promise<{detail: string; ok: boolean}> {
  let hit = availability.get(name)
  if (!hit) {
    hit = (async () => {
      const engine = ENGINES.find((e) => e.name === name)
      if (!engine) return {detail: `not in STIGMER_LAB_ENGINES`, ok: false}
      const probe = await probeEndpoint({source: `lab ${name}`, url: `unix://${engine.socket}`}, 5000)
      if (probe.state !== 'ok') return {detail: `${engine.socket}: ${probe.detail}`, ok: false}
      if (probe.engine !== name)
        return {detail: `${engine.socket} answers as ${probe.engine ?? 'unknown'}, not ${name}`, ok: false}
      return {detail: 'answers', ok: true}
    })()
    availability.set(name, hit)
  }

  return hit
}

/** Whether the lab's engine answers on its socket (and is that engine). */
export async function engineAvailable(name: EngineName): Promise<boolean> {
  return (await checkEngine(name)).ok
}

/**
 * Registers a `before` hook in the calling describe that checks the lab and
 * the named engines (default: every lab engine). Under CI=true a missing lab
 * or a silent engine fails the suite; elsewhere the suite is skipped with a
 * loud warning.
 */
export function requireEngines(names?: readonly EngineName[]): void {
  before(async function () {
    this.timeout(30_000)
    const problems: string[] = []
    try {
      loadLab()
    } catch (error) {
      problems.push((error as Error).message)
    }

    const wanted = names ?? ENGINES.map((e) => e.name)
    for (const name of wanted) {
      const check = await checkEngine(name)
      if (!check.ok) problems.push(`${name} is not usable: ${check.detail}`)
    }

    if (problems.length === 0) return
    const text = `Container lab not usable for "${this.test?.parent?.fullTitle() ?? 'this suite'}":\n  ${problems.join('\n  ')}`
    if (IN_CI) throw new Error(`${text}\nCI=true: engine suites must run. Fix scripts/lab.sh or the machine.`)
    const bar = '!'.repeat(78)
    console.warn(`\n${bar}\n SKIPPING: ${text.replaceAll('\n', '\n ')}\n (under CI=true this is a failure)\n${bar}\n`)
    this.skip()
  })
}

/** A RuntimeContext like the CLI's, with a private run dir. */
export function labContext(env: NodeJS.ProcessEnv = process.env): RuntimeContext {
  const runDir = tempDir('run')
  return {machine: currentMachine(env), runDir}
}

/** A real adapter pointed at the lab's socket for that engine. Closed by cleanup. */
export function runtimeFor(name: 'docker'): DockerAdapter
export function runtimeFor(name: 'podman'): PodmanAdapter
export function runtimeFor(name: EngineName): DockerAdapter | PodmanAdapter
export function runtimeFor(name: EngineName): DockerAdapter | PodmanAdapter {
  const ep = engineEndpoint(name)
  const ctx = labContext()
  const runtime = name === 'docker' ? new DockerAdapter(ep, ctx) : new PodmanAdapter(ep, ctx)
  cleanupScope().push({kind: 'runtime', runtime})
  return runtime
}

// ---------------------------------------------------------------- names

let counter = 0
const RUN_ID = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`

/** A container/image name no other test (or test run) uses: stigmer-test-<prefix>-<run>-<n>. Lower case. */
export function uniqueName(prefix = 'x'): string {
  counter++
  const clean =
    prefix
      .toLowerCase()
      .replaceAll(/[^\da-z-]+/g, '-')
      .replaceAll(/^-+|-+$/g, '') || 'x'
  return `stigmer-test-${clean}-${RUN_ID}-${counter}`
}

/** Labels every test container should carry, to find leftovers of this run. */
export const TEST_LABELS: Readonly<Record<string, string>> = {'io.stigmer.test-run': RUN_ID}

// ---------------------------------------------------------------- cleanup

type Item =
  | {kind: 'container'; runtime: ContainerRuntime; id: string}
  | {kind: 'dir'; path: string}
  | {kind: 'image'; runtime: ContainerRuntime; ref: string}
  | {kind: 'process'; pid: number}
  | {kind: 'runtime'; runtime: ContainerRuntime}

const testItems: Item[] = []
/** One list per describe that called useCleanup(); index 0 lives until the end of the run. */
const scopes: Item[][] = [[]]
let inTest = false

function cleanupScope(): Item[] {
  return inTest ? testItems : scopes.at(-1)!
}

async function drain(items: Item[]): Promise<void> {
  const failures: string[] = []
  // Reverse order: containers before the images they use, runtimes closed last.
  const ordered = items.splice(0).reverse()
  ordered.sort((a, b) => rank(a) - rank(b))
  for (const item of ordered) {
    try {
      switch (item.kind) {
        case 'container': {
          await item.runtime.removeContainer(item.id, {force: true})
          break
        }

        case 'dir': {
          rmSync(item.path, {force: true, recursive: true})
          break
        }

        case 'image': {
          await item.runtime.removeImage(item.ref, {force: true})
          break
        }

        case 'process': {
          try {
            process.kill(item.pid, 'SIGTERM')
          } catch {
            // already gone
          }

          break
        }

        case 'runtime': {
          await item.runtime.close()
          break
        }
      }
    } catch (error) {
      failures.push(`${item.kind}: ${(error as Error).message}`)
    }
  }

  if (failures.length > 0) console.warn(`cleanup could not remove:\n  ${failures.join('\n  ')}`)
}

function rank(item: Item): number {
  return {container: 0, dir: 3, image: 1, process: 2, runtime: 4}[item.kind]
}

/**
 * Records what a test made so it is removed afterwards. Inside a test (or a
 * beforeEach) it goes when the test ends; in a before hook, when the describe
 * that called useCleanup() ends (or at the end of the run).
 */
export const track = {
  container(runtime: ContainerRuntime, id: string): string {
    cleanupScope().push({id, kind: 'container', runtime})
    return id
  },
  dir(path: string): string {
    cleanupScope().push({kind: 'dir', path})
    return path
  },
  image(runtime: ContainerRuntime, ref: string): string {
    cleanupScope().push({kind: 'image', ref, runtime})
    return ref
  },
  process(pid: number): number {
    cleanupScope().push({kind: 'process', pid})
    return pid
  },
}

/** Removes everything tracked so far, now. */
export async function cleanup(): Promise<void> {
  await drain(testItems)
  for (let i = scopes.length - 1; i >= 0; i--) await drain(scopes[i]!)
}

/**
 * Call first in a describe: what its tests track is removed after each test,
 * what its before hooks track when the describe ends.
 */
export function useCleanup(): void {
  before(() => {
    scopes.push([])
  })
  beforeEach(() => {
    inTest = true
  })
  afterEach(async function () {
    this.timeout(60_000)
    inTest = false
    await drain(testItems)
  })
  after(async function () {
    this.timeout(120_000)
    const scope = scopes.length > 1 ? scopes.pop()! : scopes[0]!
    await drain(scope)
  })
}

// A safety net at the root of the run: nothing tracked outlives it.
if (typeof after === 'function') {
  after(async function () {
    this.timeout(120_000)
    inTest = false
    await cleanup()
  })
}

/** A temp dir removed by cleanup. */
export function tempDir(prefix = 'tmp'): string {
  const dir = mkdtempSync(join(tmpdir(), `stigmer-test-${prefix}-`))
  return track.dir(dir)
}

// ---------------------------------------------------------------- images

export interface BusyboxImageOptions {
  /** Shell command of the HEALTHCHECK (CMD-SHELL). No health check when absent. */
  readonly healthcmd?: string
  readonly healthIntervalSeconds?: number
  readonly healthRetries?: number
  readonly healthTimeoutSeconds?: number
  /** CMD: a string is run by sh -c, an array is the exec form. Default: sleep until SIGTERM. */
  readonly cmd?: readonly string[] | string
  readonly user?: string
  readonly labels?: Readonly<Record<string, string>>
  /** Extra Dockerfile lines after FROM. */
  readonly lines?: readonly string[]
  /** Files to put in the build context. */
  readonly files?: Readonly<Record<string, string>>
}

/** A main process that sleeps, and exits 0 at once on SIGTERM (a shell as PID 1 ignores it unless it traps it). */
export const SLEEP_FOREVER = `trap 'exit 0' TERM INT; while :; do sleep 1 & wait $!; done`

/** Options for an image whose health check passes N seconds after the container starts. */
export function healthyAfter(seconds: number): BusyboxImageOptions {
  return {
    cmd: `trap 'exit 0' TERM INT; (sleep ${seconds}; echo ready > /tmp/ready) & while :; do sleep 1 & wait $!; done`,
    healthcmd: `test -f /tmp/ready && echo probe-ok || { echo probe-not-ready; exit 1; }`,
    healthIntervalSeconds: 1,
    healthRetries: 30,
  }
}

/** Options for an image whose health check always fails, with a recognisable output. */
export function neverHealthy(): BusyboxImageOptions {
  return {
    cmd: SLEEP_FOREVER,
    healthcmd: `echo probe-failing-on-purpose; exit 1`,
    healthIntervalSeconds: 1,
    healthRetries: 1,
  }
}

/** Options for an image whose main process exits at once with that code. */
export function exitsAtOnce(code = 3): BusyboxImageOptions {
  return {cmd: `echo exiting-now; exit ${code}`}
}

function dockerfileString(s: string): string {
  return JSON.stringify(s)
}

/**
 * Builds an image FROM the lab busybox with runtime.buildImage, in a temp
 * context dir, and tracks it for removal. Returns its reference.
 */
export async function busyboxImage(runtime: ContainerRuntime, options: BusyboxImageOptions = {}): Promise<string> {
  const lab = loadLab()
  const context = mkdtempSync(join(tmpdir(), 'stigmer-test-ctx-'))
  try {
    const lines = [`FROM ${lab.busybox}`, ...(options.lines ?? [])]
    for (const [k, v] of Object.entries(options.labels ?? {}))
      lines.push(`LABEL ${dockerfileString(k)}=${dockerfileString(v)}`)
    if (options.healthcmd) {
      lines.push(
        `HEALTHCHECK --interval=${options.healthIntervalSeconds ?? 1}s --timeout=${options.healthTimeoutSeconds ?? 5}s --retries=${options.healthRetries ?? 3} CMD ${options.healthcmd}`,
      )
    }

    if (options.user) lines.push(`USER ${options.user}`)
    const cmd = options.cmd ?? SLEEP_FOREVER
    lines.push(
      typeof cmd === 'string' ? `CMD ["/bin/sh", "-c", ${dockerfileString(cmd)}]` : `CMD ${JSON.stringify(cmd)}`,
    )
    writeFileSync(join(context, 'Dockerfile'), lines.join('\n') + '\n')
    for (const [name, content] of Object.entries(options.files ?? {})) {
      mkdirSync(dirname(join(context, name)), {recursive: true})
      writeFileSync(join(context, name), content)
    }

    const ref = `localhost/${uniqueName('img')}:test`
    // Track before building: a build that half-succeeds still leaves a tag behind.
    track.image(runtime, ref)
    await runtime.buildImage({contextDir: context, dockerfile: 'Dockerfile', tags: [ref]})
    return ref
  } finally {
    rmSync(context, {force: true, recursive: true})
  }
}

// ---------------------------------------------------------------- the CLI

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed as JSON, when --json was passed and it parsed. */
  readonly json?: unknown
  readonly ms: number
}

/** What a finished CLI run gives a test: stdout parsed as JSON when --json was passed and it parses. */
export function cliResult(
  args: readonly string[],
  run: {code: number | null; signal: NodeJS.Signals | null; started: number; stderr: string; stdout: string},
): CliResult {
  let json: unknown
  if (args.includes('--json')) {
    try {
      json = JSON.parse(run.stdout)
    } catch {
      json = undefined
    }
  }

  const {code, signal, started, stderr, stdout} = run
  return {code, ms: Date.now() - started, signal, stderr, stdout, ...(json === undefined ? {} : {json})}
}

export interface CliOptions {
  /** Merged over process.env; a value of undefined removes the variable. */
  readonly env?: Record<string, string | undefined>
  /** Replaces the environment entirely (STIGMER_HOME is still added unless given). */
  readonly cleanEnv?: boolean
  readonly input?: string
  readonly timeoutMs?: number
  /** Run as this user, through `runuser -u USER --` (needs root). */
  readonly user?: string
  /** Run the CLI through this wrapper argv (e.g. unshare); the node command is appended. */
  readonly wrapper?: readonly string[]
}

/** The built CLI's entry point. */
export const CLI_BIN = join(REPO_ROOT, 'bin', 'run.js')

/** A fresh STIGMER_HOME (removed by cleanup), readable and writable by `user` when given. */
export function stigmerHome(user?: string): string {
  const dir = tempDir('home')
  if (user) chownToUser(dir, user)
  return dir
}

function userIds(user: string): {gid: number; uid: number} {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))
  if (!line) throw new Error(`No user ${user} in /etc/passwd (scripts/lab.sh creates the lab's test user).`)
  const fields = line.split(':')
  return {gid: Number(fields[3]), uid: Number(fields[2])}
}

export function chownToUser(path: string, user: string): void {
  const {gid, uid} = userIds(user)
  chownSync(path, uid, gid)
  chmodSync(path, 0o700)
}

/**
 * Spawns the BUILT CLI (`node bin/run.js ...args`; build first) with its own
 * STIGMER_HOME, collects its output, and parses stdout as JSON under --json.
 */
export async function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'commands'))) {
    throw new Error(`The CLI is not built (${join(REPO_ROOT, 'dist')} is missing): run \`npm run build\` first.`)
  }

  const base: Record<string, string | undefined> = opts.cleanEnv ? {} : {...process.env}
  // mocha's tsx loader must not leak into the CLI: it runs from dist/ like a user's install.
  delete base.NODE_OPTIONS
  const env: Record<string, string | undefined> = {...base, ...opts.env}
  if (!('STIGMER_HOME' in (opts.env ?? {}))) env.STIGMER_HOME = stigmerHome(opts.user)
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  let argv = [process.execPath, CLI_BIN, ...args]
  if (opts.user) argv = ['runuser', '-u', opts.user, '--', ...argv]
  if (opts.wrapper) argv = [...opts.wrapper, ...argv]
  const started = Date.now()
  const timeoutMs = opts.timeoutMs ?? 60_000
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: REPO_ROOT,
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `stigmer ${args.join(' ')} did not finish within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      )
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolvePromise(cliResult(args, {code, signal, started, stderr, stdout}))
    })
    child.stdin.end(opts.input ?? '')
  })
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => {
    setTimeout(resolve, ms)
  })
}

/** Polls until fn returns a truthy value or the deadline passes (then throws with the last value). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  options: {intervalMs?: number; timeoutMs?: number} = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await fn()
    if (last) return last as NonNullable<T>
    await sleep(options.intervalMs ?? 250)
  }

  throw new Error(`Timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
}

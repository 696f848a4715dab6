/**
 * Helpers for the `stigmer server` engine suites (test/engines/server*.test.ts):
 * the fixture agent-runner image built once per engine per run, the lab
 * registry (log in with private auth files, push, read manifests, delete),
 * a throttling TLS proxy in front of the registry for slow pulls, a CLI child
 * process a test can interrupt, and small probes (ps, STIGMER_HOME grep).
 *
 * Everything made here is removed by a root-level after hook, also when a
 * test fails.
 */
/* eslint-disable mocha/no-exports, mocha/no-top-level-hooks, mocha/no-sibling-hooks --
   A helper module, not a test file: it exports the helpers and registers their cleanup (and, through
   useLabTemporal, the hooks of the suites that call it). */
/* eslint-disable n/no-unsupported-features/node-builtins --
   fs.cpSync and fetch are flagged experimental before Node 22/21 but work in the lab's Node 20. */
import {execFile, spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import tls from 'node:tls'
import {promisify} from 'node:util'

import type {ContainerRuntime} from '../../src/engine/types.js'

import {DockerAdapter} from '../../src/adapters/docker.js'
import {PodmanAdapter} from '../../src/adapters/podman.js'
import {planBuild, stageContextFor} from '../../src/image/build.js'
import {
  CLI_BIN,
  cliResult,
  type CliResult,
  engineEndpoint,
  type EngineName,
  labContext,
  loadLab,
  REPO_ROOT,
  sleep,
  stigmerHome,
  uniqueName,
} from './lab.js'
import {startTemporalStandin, type TemporalStandin} from './temporal-standin.js'

const run = promisify(execFile)

/** The name `server start` gives the container (src/server/spec.ts). */
export const MANAGED_NAME = 'stigmer-agent-runner'

// ---------------------------------------------------------------- cleanup of what this module makes

type Undo = () => Promise<void> | void
const undo: Undo[] = []
const runtimes = new Map<EngineName, ContainerRuntime>()

/** Runs fn at the end of the run (reverse order), whatever happened. */
export function atEnd(fn: Undo): void {
  undo.push(fn)
}

if (typeof after === 'function') {
  after(async function () {
    this.timeout(180_000)
    for (const fn of undo.splice(0).reverse()) {
      try {
        await fn()
      } catch (error) {
        console.warn(`server-images cleanup: ${(error as Error).message}`)
      }
    }

    for (const runtime of runtimes.values()) await runtime.close().catch(() => {})
    runtimes.clear()
  })
}

/** One adapter per engine for the whole run (closed at the end). */
export function engineRuntime(engine: EngineName): ContainerRuntime {
  let runtime = runtimes.get(engine)
  if (!runtime) {
    const endpoint = engineEndpoint(engine)
    runtime =
      engine === 'docker' ? new DockerAdapter(endpoint, labContext()) : new PodmanAdapter(endpoint, labContext())
    runtimes.set(engine, runtime)
  }

  return runtime
}

/** The engine CLI pointed at the lab socket (for what the adapter does not offer, e.g. login). */
export function engineCli(engine: EngineName): {args: string[]; bin: string} {
  return engine === 'docker'
    ? {args: ['-H', `unix://${loadLab().dockerSock ?? '/var/run/docker.sock'}`], bin: 'docker'}
    : {args: [], bin: 'podman'}
}

// ---------------------------------------------------------------- a Temporal for the runners

let labTemporal: TemporalStandin | undefined
let labTemporalUsers = 0

/**
 * The agent-runner is ready only while it is connected to Temporal (the image's health check),
 * so every suite that starts one calls this in its describe block: a Temporal stand-in
 * (./temporal-standin.ts) listens on 0.0.0.0:7233, where the runner looks by default (host
 * networking: localhost:7233; bridge: the host alias, which reaches 0.0.0.0 too), from the
 * suite's before hook to its after hook. The getter returns it (to stop it, or read its pollers).
 */
export function useLabTemporal(): {current(): TemporalStandin; restart(): Promise<TemporalStandin>} {
  before(async function () {
    this.timeout(30_000)
    labTemporalUsers++
    labTemporal ??= await startTemporalStandin({port: LAB_TEMPORAL_PORT}).catch((error: Error) => {
      throw new Error(
        `The Temporal stand-in cannot listen on ${LAB_TEMPORAL_PORT} (${error.message}): is a Temporal server running on this machine? Stop it for the engine suites.`,
      )
    })
  })
  after(async () => {
    labTemporalUsers--
    if (labTemporalUsers === 0) {
      await labTemporal?.stop()
      labTemporal = undefined
    }
  })
  return {
    current() {
      if (!labTemporal) throw new Error('useLabTemporal: the stand-in is not running (stopped by a test?)')
      return labTemporal
    },
    async restart() {
      await labTemporal?.stop()
      labTemporal = await startTemporalStandin({port: LAB_TEMPORAL_PORT})
      return labTemporal
    },
  }
}

/** Where the agent-runner looks for Temporal by default (localhost:7233). */
export const LAB_TEMPORAL_PORT = 7233

// ---------------------------------------------------------------- the fixture agent-runner image

export interface FixtureImages {
  /** The fixture agent-runner (label org.opencontainers.image.version 1.0.0). */
  readonly v1: string
  /** The same program, version 2.0.0: another image id, for upgrades. */
  readonly v2: string
  /** Its numeric USER (1000:1000). */
  readonly user: string
  /** Names of the image's own ENV (PATH, PYTHONUNBUFFERED, ...). */
  readonly imageEnv: readonly string[]
}

const built = new Map<EngineName, Promise<FixtureImages>>()

async function buildFixture(engine: EngineName): Promise<FixtureImages> {
  const lab = loadLab()
  if (!lab.python || !lab.pythonBuilder)
    throw new Error(`${lab.envFile} names no Python base images: re-run scripts/lab.sh.`)
  const runtime = engineRuntime(engine)
  const repo = `localhost/${uniqueName('server-fixture')}/agent-runner`
  // The context exactly as `stigmer image build` stages it (entry point, installer, support files).
  const plan = await planBuild({
    buildArgs: [`BASE_IMAGE=${lab.python}`, `BUILDER_IMAGE=${lab.pythonBuilder}`],
    cliRoot: REPO_ROOT,
    sourceDir: join(REPO_ROOT, 'test', 'fixtures', 'agent-runner'),
  })
  const staged = await stageContextFor(plan)
  const images = {v1: `${repo}:v1.0.0`, v2: `${repo}:v2.0.0`}
  atEnd(async () => {
    for (const ref of [images.v2, images.v1]) await runtime.removeImage(ref, {force: true}).catch(() => {})
  })
  try {
    for (const [ref, version] of [
      [images.v1, '1.0.0'],
      [images.v2, '2.0.0'],
    ] as const) {
      // A file that differs per version: Podman 4.3 (buildah) reuses its cached final layers when
      // only a build ARG used by a LABEL changes, which would make v2 the very same image as v1.
      writeFileSync(join(staged.dir, 'BUILD_VERSION'), `${version}\n`)
      await runtime.buildImage({
        buildArgs: {...plan.buildArgs, VERSION: version},
        contextDir: staged.dir,
        dockerfile: staged.dockerfile,
        tags: [ref],
      })
    }
  } finally {
    await staged.cleanup()
  }

  const info = await runtime.inspectImage(images.v1)
  if (!info?.healthcheck) throw new Error(`${images.v1} was built without its HEALTHCHECK on ${engine}`)
  const v2 = await runtime.inspectImage(images.v2)
  if (!v2 || v2.id === info.id || v2.labels['org.opencontainers.image.version'] !== '2.0.0') {
    throw new Error(`${images.v2} is not a distinct version 2.0.0 image on ${engine} (id ${v2?.id})`)
  }

  const cli = engineCli(engine)
  const {stdout} = await run(cli.bin, [...cli.args, 'image', 'inspect', '--format', '{{json .Config.Env}}', images.v1])
  const imageEnv = (JSON.parse(stdout) as string[]).map((e) => e.split('=')[0]!)
  return {...images, imageEnv, user: info.user}
}

/** The fixture agent-runner images for that engine, built once per run. */
export function fixtureImages(engine: EngineName): Promise<FixtureImages> {
  let hit = built.get(engine)
  if (!hit) {
    hit = buildFixture(engine)
    built.set(engine, hit)
    hit.catch(() => built.delete(engine))
  }

  return hit
}

/**
 * A copy of `from` that is another image (one LABEL more), so that pushing it
 * and removing it locally leaves nothing of its manifest behind: a later pull
 * gets it fresh, with only the registry's digest (the layers stay, shared).
 */
export async function imageCopy(engine: EngineName, from: string): Promise<string> {
  const runtime = engineRuntime(engine)
  const name = uniqueName('server-copy')
  const ref = `localhost/${name}/agent-runner:v1.0.0`
  const context = mkdtempSync(join(tmpdir(), 'stigmer-test-copy-ctx-'))
  atEnd(async () => {
    await runtime.removeImage(ref, {force: true}).catch(() => {})
  })
  try {
    writeFileSync(join(context, 'Dockerfile'), `FROM ${from}\nLABEL io.stigmer.test.copy="${name}"\n`)
    await runtime.buildImage({contextDir: context, dockerfile: 'Dockerfile', tags: [ref]})
  } finally {
    rmSync(context, {force: true, recursive: true})
  }

  return ref
}

/**
 * A busybox image with a random, incompressible layer of `bytes` (nothing of
 * it exists anywhere else, so a pull must really download it) that turns
 * healthy a second after it starts.
 */
export async function uniqueLayerImage(engine: EngineName, bytes: number): Promise<string> {
  const lab = loadLab()
  const runtime = engineRuntime(engine)
  const ref = `localhost/${uniqueName('server-slow')}/agent-runner:v1`
  const context = mkdtempSync(join(tmpdir(), 'stigmer-test-slow-ctx-'))
  atEnd(async () => {
    await runtime.removeImage(ref, {force: true}).catch(() => {})
  })
  try {
    writeFileSync(join(context, 'blob'), randomBytes(bytes))
    writeFileSync(
      join(context, 'Dockerfile'),
      [
        `FROM ${lab.busybox}`,
        'COPY blob /blob',
        'HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD test -f /tmp/ready',
        `CMD ["/bin/sh", "-c", "trap 'exit 0' TERM INT; (sleep 1; touch /tmp/ready) & while :; do sleep 1 & wait $!; done"]`,
      ].join('\n') + '\n',
    )
    await runtime.buildImage({contextDir: context, dockerfile: 'Dockerfile', tags: [ref]})
  } finally {
    rmSync(context, {force: true, recursive: true})
  }

  return ref
}

// ---------------------------------------------------------------- the lab registry

export interface LabRegistry {
  /** host:port */
  readonly host: string
  readonly username: string
  readonly password: string
}

export function labRegistry(): LabRegistry {
  const lab = loadLab()
  if (!lab.registry || !lab.registryUser || !lab.registryPassword) {
    throw new Error(`The lab has no registry with credentials (${lab.envFile}): re-run scripts/lab.sh.`)
  }

  return {host: lab.registry, password: lab.registryPassword, username: lab.registryUser}
}

export interface RegistryLogin {
  /** DOCKER_CONFIG (Docker) or REGISTRY_AUTH_FILE (Podman), for the CLI's environment. */
  readonly env: Record<string, string>
  /** The auth file written. */
  readonly file: string
}

/**
 * Logs in to the lab registry with the engine's own CLI, into a private auth
 * file (nothing reaches root's real config). Extra hosts (a proxy in front of
 * the registry) get the same entry.
 */
export async function loginToLab(engine: EngineName, extraHosts: readonly string[] = []): Promise<RegistryLogin> {
  const registry = labRegistry()
  const dir = mkdtempSync(join(tmpdir(), 'stigmer-test-auth-'))
  atEnd(() => rmSync(dir, {force: true, recursive: true}))
  const cli = engineCli(engine)
  const file = engine === 'docker' ? join(dir, 'config.json') : join(dir, 'auth.json')
  const args =
    engine === 'docker'
      ? [...cli.args, 'login', '--username', registry.username, '--password-stdin', registry.host]
      : ['login', '--authfile', file, '--username', registry.username, '--password-stdin', registry.host]
  const result = spawnSync(cli.bin, args, {
    encoding: 'utf8',
    env: {...process.env, DOCKER_CONFIG: dir},
    input: registry.password,
    timeout: 60_000,
  })
  if (result.status !== 0) throw new Error(`${cli.bin} login ${registry.host} failed: ${result.stderr}`)
  const config = JSON.parse(readFileSync(file, 'utf8')) as {auths: Record<string, {auth: string}>}
  const entry = config.auths[registry.host] ?? Object.values(config.auths)[0]
  if (!entry?.auth) throw new Error(`${cli.bin} login wrote no credentials for ${registry.host} in ${file}`)
  for (const host of extraHosts) config.auths[host] = {auth: entry.auth}
  writeFileSync(file, JSON.stringify(config, null, 2), {mode: 0o600})
  return {env: engine === 'docker' ? {DOCKER_CONFIG: dir} : {REGISTRY_AUTH_FILE: file}, file}
}

/** Tags `local` as host/<path> in the lab registry and pushes it. Returns the registry reference. */
export async function pushToLab(engine: EngineName, local: string, path: string): Promise<string> {
  const registry = labRegistry()
  const runtime = engineRuntime(engine)
  const target = `${registry.host}/${path}`
  await runtime.tagImage(local, target)
  atEnd(async () => {
    await runtime.removeImage(target, {force: true}).catch(() => {})
  })
  await runtime.pushImage(target, {
    credentials: {password: registry.password, registry: registry.host, username: registry.username},
  })
  atEnd(() => deleteFromLab(path))
  return target
}

function basicAuth(): string {
  const registry = labRegistry()
  return `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ')

export interface LabManifest {
  readonly digest: string
  readonly configSize: number
  readonly layerSizes: readonly number[]
  /** Config plus layers: what a pull downloads. */
  readonly totalSize: number
}

/** The manifest of repo:tag in the lab registry (path is "repo:tag"). */
export async function labManifest(path: string): Promise<LabManifest> {
  const registry = labRegistry()
  const colon = path.lastIndexOf(':')
  const [repo, tag] = [path.slice(0, colon), path.slice(colon + 1)]
  const response = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
    headers: {Accept: MANIFEST_TYPES, Authorization: basicAuth()},
  })
  if (!response.ok) throw new Error(`GET manifest ${path}: HTTP ${response.status} ${await response.text()}`)
  const body = (await response.json()) as {config: {size: number}; layers: Array<{size: number}>}
  const layerSizes = body.layers.map((l) => l.size)
  return {
    configSize: body.config.size,
    digest: response.headers.get('docker-content-digest') ?? '',
    layerSizes,
    totalSize: body.config.size + layerSizes.reduce((a, b) => a + b, 0),
  }
}

/** Deletes repo:tag's manifest from the lab registry (best effort; blobs stay until a GC). */
export async function deleteFromLab(path: string): Promise<void> {
  const registry = labRegistry()
  try {
    const {digest} = await labManifest(path)
    const repo = path.slice(0, path.lastIndexOf(':'))
    await fetch(`http://${registry.host}/v2/${repo}/manifests/${digest}`, {
      headers: {Authorization: basicAuth()},
      method: 'DELETE',
    })
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------- a slow registry

export interface ThrottledRegistry {
  /** 127.0.0.1:PORT */
  readonly host: string
  /** Bytes per second from the registry to the engine; Infinity lifts the limit. */
  setRate(bytesPerSecond: number): void
  /** Bytes sent to the engine so far. */
  readonly sent: () => number
  close(): Promise<void>
}

/**
 * A TLS proxy in front of the lab registry that sends the registry's answers
 * at a limited rate. TLS because the Podman service reads registries.conf
 * (where plain-HTTP registries are declared) only once, at its start, while
 * it reads /etc/containers/certs.d/HOST:PORT/ca.crt on every pull: the test
 * trusts the proxy's throwaway certificate there and removes it afterwards.
 * Docker allows any loopback registry without verification.
 */
export async function throttledRegistry(bytesPerSecond: number): Promise<ThrottledRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'stigmer-test-tls-'))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  const gen = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    {encoding: 'utf8'},
  )
  if (gen.status !== 0) throw new Error(`openssl could not make a certificate: ${gen.stderr}`)
  const [upstreamHost, upstreamPort] = labRegistry().host.split(':') as [string, string]
  let rate = bytesPerSecond
  let sent = 0
  const sockets = new Set<net.Socket>()
  let closed = false
  const server = tls.createServer({cert: readFileSync(cert), key: readFileSync(key)}, (client) => {
    if (closed) {
      client.destroy()
      return
    }

    const upstream = net.connect(Number(upstreamPort), upstreamHost)
    sockets.add(client)
    sockets.add(upstream)
    client.pipe(upstream)
    upstream.on('data', (data: Buffer) => {
      sent += data.length
      client.write(data)
      if (Number.isFinite(rate)) {
        upstream.pause()
        setTimeout(() => upstream.resume(), (data.length / rate) * 1000)
      }
    })
    // Ends are passed on gracefully (what is buffered still goes out); errors tear both down.
    upstream.on('end', () => client.end())
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => sockets.delete(upstream))
    client.on('close', () => sockets.delete(client))
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`
  const certsRoot = '/etc/containers/certs.d'
  const hadCertsRoot = existsSync(certsRoot)
  const certsDir = join(certsRoot, host)
  mkdirSync(certsDir, {recursive: true})
  cpSync(cert, join(certsDir, 'ca.crt'))
  const close = async () => {
    if (closed) return
    closed = true
    rmSync(certsDir, {force: true, recursive: true})
    if (!hadCertsRoot) {
      try {
        rmdirSync(certsRoot)
      } catch {
        // not empty: someone else uses it
      }
    }

    rmSync(dir, {force: true, recursive: true})
    // An engine may go on pulling after the CLI is gone (Podman does): never wait for it.
    const stopped = new Promise<void>((resolve) => {
      server.close(() => resolve())
    })
    for (const socket of sockets) socket.destroy()
    await Promise.race([stopped, sleep(2000)])
  }

  atEnd(close)
  return {
    close,
    host,
    sent: () => sent,
    setRate(next: number) {
      rate = next
      for (const socket of sockets) socket.resume()
    },
  }
}

// ---------------------------------------------------------------- the CLI as a process a test controls

export interface CliProcess {
  readonly child: ChildProcess
  readonly pid: number
  stdout(): string
  stderr(): string
  /** Resolves when stdout+stderr match (or rejects after timeoutMs with what was seen). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>
  /** Sends a signal (SIGINT is Ctrl-C) to the CLI process. */
  signal(signal: NodeJS.Signals): void
  /** The outcome; the process is SIGKILLed if it outlives timeoutMs. */
  readonly done: Promise<CliResult>
}

export interface CliProcessOptions {
  readonly env?: Record<string, string | undefined>
  readonly timeoutMs?: number
}

/**
 * Spawns `node bin/run.js ...args` like runCli, but hands back the running
 * process: for Ctrl-C, following logs, and watching `ps` while it runs.
 */
export function startCli(args: readonly string[], options: CliProcessOptions = {}): CliProcess {
  const env: Record<string, string | undefined> = {...process.env, ...options.env}
  delete env.NODE_OPTIONS
  if (!('STIGMER_HOME' in (options.env ?? {}))) env.STIGMER_HOME = stigmerHome()
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  const started = Date.now()
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: REPO_ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  child.stdin.end()
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  const poke = () => {
    for (const w of waiters) w()
  }

  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString()
    poke()
  })
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
    poke()
  })
  let exited = false
  const timeoutMs = options.timeoutMs ?? 120_000
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      exited = true
      poke()
      resolve(cliResult(args, {code, signal, started, stderr, stdout}))
    })
  })
  atEnd(() => {
    if (!exited) child.kill('SIGKILL')
  })
  return {
    child,
    done,
    pid: child.pid!,
    signal(signal: NodeJS.Signals) {
      child.kill(signal)
    },
    stderr: () => stderr,
    stdout: () => stdout,
    waitForOutput(pattern: RegExp, waitMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stdout) || pattern.test(stderr)) {
            cleanup()
            resolve()
          } else if (exited) {
            cleanup()
            reject(
              new Error(
                `stigmer ${args.join(' ')} exited before printing ${pattern}.\nstdout: ${stdout}\nstderr: ${stderr}`,
              ),
            )
          }
        }

        const timer = setTimeout(() => {
          cleanup()
          reject(
            new Error(
              `stigmer ${args.join(' ')} did not print ${pattern} within ${waitMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`,
            ),
          )
        }, waitMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }

        waiters.add(check)
        check()
      })
    },
  }
}

// ---------------------------------------------------------------- probes

/**
 * Polls `ps -eo args` every intervalMs until stopped and records every line
 * that contains one of the values (the command lines of all processes).
 */
export function watchProcessArgs(
  values: readonly string[],
  intervalMs = 50,
): {stop(): Promise<{hits: string[]; polls: number}>} {
  const hits: string[] = []
  let polls = 0
  const state = {running: true}
  const loop = (async () => {
    while (state.running) {
      try {
        const {stdout} = await run('ps', ['-eo', 'args'], {maxBuffer: 16 * 1024 * 1024})
        polls++
        for (const line of stdout.split('\n')) if (values.some((v) => line.includes(v))) hits.push(line)
      } catch {
        // ps itself failed once: try again
      }

      await sleep(intervalMs)
    }
  })()
  return {
    async stop() {
      state.running = false
      await loop
      return {hits, polls}
    },
  }
}

/** Every file under dir (recursively) whose content contains one of the values. */
export function filesContaining(dir: string, values: readonly string[]): string[] {
  const found: string[] = []
  const walk = (path: string) => {
    let entries: string[]
    try {
      entries = readdirSync(path)
    } catch {
      return
    }

    for (const name of entries) {
      const full = join(path, name)
      let stat
      try {
        stat = statSync(full)
      } catch {
        continue
      }

      if (stat.isDirectory()) walk(full)
      else if (stat.isFile()) {
        const text = readFileSync(full, 'latin1')
        if (values.some((v) => text.includes(v)) || values.some((v) => basename(full).includes(v))) found.push(full)
      }
    }
  }

  walk(dir)
  return found
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** A value no one could guess, that looks like an API key. */
export function fakeSecret(prefix: string): string {
  return `${prefix}-${randomBytes(18).toString('hex')}`
}

/**
 * Removes the managed container. When one that this run did not make is
 * there (another suite on a shared machine), waits up to waitMs for it to go
 * before taking the name.
 */
export async function clearManagedContainer(engine: EngineName, waitMs = 0): Promise<void> {
  const runtime = engineRuntime(engine)
  const deadline = Date.now() + waitMs
  while (Date.now() < deadline) {
    if (!(await runtime.inspectContainer(MANAGED_NAME))) return
    await sleep(1000)
  }

  const left = await runtime.inspectContainer(MANAGED_NAME)
  if (left) {
    if (waitMs > 0)
      console.warn(
        `\nserver suite: removing a ${MANAGED_NAME} container on ${engine} that another run left (${left.image}).\n`,
      )
    await runtime.removeContainer(left.id, {force: true}).catch(() => {})
  }
}

/** Environment for a CLI run against that lab engine: its endpoint, no stray settings from the host. */
export function engineEnv(engine: EngineName): Record<string, string | undefined> {
  const lab = loadLab()
  return {
    ANTHROPIC_API_KEY: undefined,
    CONTAINER_HOST: engine === 'podman' ? `unix://${lab.podmanSock ?? '/run/podman/podman.sock'}` : undefined,
    DEBUG: undefined,
    DOCKER_CONFIG: undefined,
    DOCKER_CONTEXT: undefined,
    DOCKER_HOST: engine === 'docker' ? `unix://${lab.dockerSock ?? '/var/run/docker.sock'}` : undefined,
    LOG_LEVEL: undefined,
    OLLAMA_BASE_URL: undefined,
    OPENAI_API_KEY: undefined,
    REGISTRY_AUTH_FILE: undefined,
    STIGMER_AGENT_RUNNER_IMAGE: undefined,
    STIGMER_BACKEND_ENDPOINT: undefined,
    STIGMER_CONTAINER_RUNTIME: undefined,
    STIGMER_LLM_API_KEY: undefined,
    STIGMER_LLM_BASE_URL: undefined,
    STIGMER_LLM_MODEL: undefined,
    STIGMER_LLM_PROVIDER: undefined,
    TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE: undefined,
    TEMPORAL_NAMESPACE: undefined,
    TEMPORAL_SERVICE_ADDRESS: undefined,
  }
}

/** Unix ids of a local user, from /etc/passwd. */
export function userIds(user: string): {gid: number; home: string; uid: number} {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))
  if (!line) throw new Error(`No user ${user} in /etc/passwd`)
  const f = line.split(':')
  return {gid: Number(f[3]), home: f[5]!, uid: Number(f[2])}
}

/** Whether `user` may read and write that socket (group membership, mode). */
export function socketUsableBy(user: string, socket: string): boolean {
  const result = spawnSync('runuser', ['-u', user, '--', 'test', '-r', socket, '-a', '-w', socket])
  return result.status === 0
}

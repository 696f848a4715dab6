/**
 * `stigmer image build|push|pull|login` against the real engines (Docker and
 * Podman, the same suite) and the lab's htpasswd registry, through the built
 * CLI. The fixture agent-runner (test/fixtures/agent-runner) is built with the
 * real docker/Dockerfile on the lab's local Python base; what is checked is
 * what a user would check: what runs inside the image, what the registry
 * holds, exit codes and messages. Multi-arch runs on Podman under qemu.
 *
 * Credentials go to private auth files (DOCKER_CONFIG, REGISTRY_AUTH_FILE),
 * and every suite logs out afterwards. Every image, container, registry
 * manifest and temp folder made here is removed.
 */

/* eslint-disable max-nested-callbacks -- one describe per engine inside the suite */
import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ContainerRuntime, ImageInfo} from '../../src/engine/types.js'

import {capabilitiesOf} from '../../src/engine/capabilities.js'
import {LOCAL_DEV_IMAGE} from '../../src/lib/image-ref.js'
import {extraHostsFor} from '../../src/server/network.js'
import {
  ENGINES,
  type EngineName,
  loadLab,
  REPO_ROOT,
  requireEngines,
  runCli,
  type CliOptions,
  type CliResult,
  runtimeFor,
  sleep,
  tempDir,
  TEST_LABELS,
  track,
  uniqueName,
  useCleanup,
  waitFor,
} from '../helpers/lab.js'
import {useLabTemporal} from '../helpers/server-images.js'

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'agent-runner')
const RUN_LABEL = Object.entries(TEST_LABELS)[0]!
const BUILD_TIMEOUT = 600_000

interface BuildJson {
  id: string
  tags: string[]
  platforms: string[]
  manifestList: boolean
  sizes: Record<string, number>
  revision?: string
  version?: string
  durationMs: number
  context: {files: number; ignored: number; ignoreFiles: string[]}
}

interface PushJson {
  dryRun: boolean
  digest?: string
  tags: string[]
  repository: string
  pushed: Array<{digest?: string; ref: string}>
  kind: string
}

interface ErrorJson {
  error: {
    code: string
    exit: number
    kind: string
    message: string
    details?: string
    command?: string
    suggestions?: string[]
    data?: Record<string, unknown>
  }
}

const timings: string[] = []

/** The container `server start` manages (src/server/spec.ts). */
const MANAGED_NAME = 'stigmer-agent-runner'

/** The engine's own CLI pointed at the lab socket. */
function engineCli(engine: EngineName): {args: string[]; bin: string} {
  return engine === 'docker'
    ? {args: ['-H', `unix://${loadLab().dockerSock ?? '/var/run/docker.sock'}`], bin: 'docker'}
    : {args: [], bin: 'podman'}
}

/** The CLI's environment for a lab engine: its endpoint, none of the host's stray settings. */
function engineEnv(engine: EngineName): Record<string, string | undefined> {
  const lab = loadLab()
  return {
    CONTAINER_HOST: engine === 'podman' ? `unix://${lab.podmanSock ?? '/run/podman/podman.sock'}` : undefined,
    DEBUG: undefined,
    DOCKER_CONFIG: undefined,
    DOCKER_CONTEXT: undefined,
    DOCKER_HOST: engine === 'docker' ? `unix://${lab.dockerSock ?? '/var/run/docker.sock'}` : undefined,
    REGISTRY_AUTH_FILE: undefined,
    SOURCE_DATE_EPOCH: undefined,
    STIGMER_AGENT_RUNNER_IMAGE: undefined,
    STIGMER_CONTAINER_RUNTIME: undefined,
  }
}

/** Removes the managed container, waiting up to waitMs for one another suite is using to go first. */
async function clearManagedContainer(runtime: ContainerRuntime, waitMs = 0): Promise<void> {
  const deadline = Date.now() + waitMs
  while (Date.now() < deadline && (await runtime.inspectContainer(MANAGED_NAME))) await sleep(1000)
  const left = await runtime.inspectContainer(MANAGED_NAME)
  if (left) await runtime.removeContainer(left.id, {force: true}).catch(() => {})
}

function registry(): {host: string; password: string; user: string} {
  const lab = loadLab()
  if (!lab.registry || !lab.registryUser || !lab.registryPassword)
    throw new Error(`${lab.envFile} names no registry: re-run scripts/lab.sh.`)
  return {host: lab.registry, password: lab.registryPassword, user: lab.registryUser}
}

function basicAuth(): string {
  const r = registry()
  return `Basic ${Buffer.from(`${r.user}:${r.password}`).toString('base64')}`
}

/** GET /v2/<repo>/tags/list: the sorted tags, or undefined when the registry does not know the repository. */
async function registryTags(repo: string): Promise<string[] | undefined> {
  const response = await fetch(`http://${registry().host}/v2/${repo}/tags/list`, {
    headers: {Authorization: basicAuth()},
  })
  if (response.status === 404) return undefined
  if (!response.ok) throw new Error(`tags/list ${repo}: HTTP ${response.status}`)
  const body = (await response.json()) as {tags: null | string[]}
  return [...(body.tags ?? [])].sort()
}

const ACCEPT = [
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ')

async function registryManifest(
  repo: string,
  reference: string,
): Promise<{
  body: {manifests?: Array<{platform: {architecture: string; os: string}}>; mediaType?: string}
  digest: string
}> {
  const response = await fetch(`http://${registry().host}/v2/${repo}/manifests/${reference}`, {
    headers: {Accept: ACCEPT, Authorization: basicAuth()},
  })
  if (!response.ok) throw new Error(`manifest ${repo}:${reference}: HTTP ${response.status}`)
  return {body: (await response.json()) as never, digest: response.headers.get('docker-content-digest') ?? ''}
}

/** Removes every manifest of a test repository from the lab registry (blobs stay until a GC). */
async function deleteRepository(repo: string): Promise<void> {
  const tags = await registryTags(repo).catch(() => {})
  for (const tag of tags ?? []) {
    const {digest} = await registryManifest(repo, tag).catch(() => ({digest: ''}))
    if (digest)
      await fetch(`http://${registry().host}/v2/${repo}/manifests/${digest}`, {
        headers: {Authorization: basicAuth()},
        method: 'DELETE',
      }).catch(() => {})
  }
}

function engineCommand(
  engine: EngineName,
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): {status: null | number; stderr: string; stdout: string} {
  const cli = engineCli(engine)
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, ...env})) if (v !== undefined) merged[k] = v
  const result = spawnSync(cli.bin, [...cli.args, ...args], {encoding: 'utf8', env: merged, timeout: 120_000})
  return {status: result.status, stderr: result.stderr, stdout: result.stdout}
}

/** Removes dangling images this run's failed or multi-platform builds left (they carry the run label). */
function pruneRunImages(engine: EngineName): void {
  engineCommand(engine, ['image', 'prune', '--force', '--filter', `label=${RUN_LABEL[0]}=${RUN_LABEL[1]}`])
}

function gitHead(): string {
  return execFileSync('git', ['-C', FIXTURE, 'rev-parse', 'HEAD'], {encoding: 'utf8'}).trim()
}

function expectExit(result: CliResult, code: number): void {
  expect(result.code, `exit code\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).to.equal(code)
}

function stagedDirsIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('stigmer-build-'))
}

/**
 * Keeps whatever LOCAL_DEV_IMAGE named before the suite (another suite's, or
 * a developer's) and puts it back afterwards; the suite's own builds move it.
 */
/* eslint-disable mocha/no-top-level-hooks -- called inside the engine describes */
function preserveDevImage(engine: EngineName, runtime: () => ContainerRuntime): void {
  const backup = `localhost/${uniqueName('dev-backup')}/agent-runner:dev`
  let had = false
  before(async () => {
    had = await runtime().imageExists(LOCAL_DEV_IMAGE)
    if (had) await runtime().tagImage(LOCAL_DEV_IMAGE, backup)
  })
  after(async function () {
    this.timeout(60_000)
    const rt = runtime()
    await rt.removeImage(LOCAL_DEV_IMAGE).catch(() => {})
    if (had) {
      await rt
        .tagImage(backup, LOCAL_DEV_IMAGE)
        .catch((error: Error) => console.warn(`could not restore ${LOCAL_DEV_IMAGE} on ${engine}: ${error.message}`))
      await rt.removeImage(backup).catch(() => {})
    }
  })
}

/* eslint-enable mocha/no-top-level-hooks */

/**
 * A folder `image build` accepts as a project (pyproject.toml and an entry point) around a
 * Dockerfile of the test's own: these tests exercise the build pipeline, not the image.
 * Returns the --source and --file arguments.
 */
function toyProject(source: string, dockerfile: string): string[] {
  writeFileSync(join(source, 'pyproject.toml'), '[project]\nname = "toy"\nversion = "0.0.0"\n')
  writeFileSync(join(source, 'main.py'), 'print("toy")\n')
  writeFileSync(join(source, 'Dockerfile'), dockerfile)
  return ['--source', source, '--file', join(source, 'Dockerfile')]
}

describe('stigmer image (real engines, lab registry)', function () {
  useLabTemporal()
  this.timeout(BUILD_TIMEOUT)
  requireEngines()
  useCleanup()

  after(() => {
    if (timings.length > 0) console.log(`\n  image suite timings:\n    ${timings.join('\n    ')}\n`)
  })

  for (const {name: engine} of ENGINES) {
    describe(engine, () => {
      let runtime: ContainerRuntime
      let authDir: string
      /** The CLI environment: the lab engine, private credential files, a private TMPDIR to see staged contexts. */
      let env: Record<string, string | undefined>
      let tmp: string
      let built: {info: ImageInfo; json: BuildJson; ref: string}
      const repos: string[] = []
      /** Images the later tests of this describe use: removed when it ends (track() in a test removes at the test's end). */
      const suiteImages: string[] = []

      /** `stigmer image build --runtime <engine> ...args` in this describe's environment. */
      async function build(args: string[], timeoutMs?: number): Promise<CliResult> {
        return runCli(['image', 'build', '--runtime', engine, ...args], {
          env,
          ...(timeoutMs === undefined ? {} : {timeoutMs}),
        })
      }

      /** `stigmer image push` of the fixture build to `repository`, `extra` after it; 5 minutes in this environment unless `options`. */
      async function push(repository: string, extra: string[], options?: CliOptions): Promise<CliResult> {
        return runCli(
          ['image', 'push', '--runtime', engine, '--image', built.ref, '--repository', repository, ...extra],
          options ?? {env, timeoutMs: 300_000},
        )
      }

      /** `stigmer image pull --runtime <engine> --image <image> --json`. */
      async function pull(image: string): Promise<CliResult> {
        return runCli(['image', 'pull', '--runtime', engine, '--image', image, '--json'], {env, timeoutMs: 300_000})
      }

      before(() => {
        runtime = runtimeFor(engine)
        authDir = tempDir(`auth-${engine}`)
        tmp = tempDir(`tmpdir-${engine}`)
        env = {
          ...engineEnv(engine),
          DOCKER_CONFIG: authDir,
          REGISTRY_AUTH_FILE: join(authDir, 'auth.json'),
          TMPDIR: tmp,
        }
      })

      preserveDevImage(engine, () => runtime)

      after(async function () {
        this.timeout(120_000)
        // Log out so no credentials outlive the suite, even in the private files.
        const r = registry()
        if (engine === 'docker') engineCommand('docker', ['logout', r.host], {DOCKER_CONFIG: authDir})
        else engineCommand('podman', ['logout', '--authfile', join(authDir, 'auth.json'), r.host])
        for (const ref of suiteImages) await runtime.removeImage(ref, {force: true}).catch(() => {})
        for (const repo of repos) await deleteRepository(repo)
        pruneRunImages(engine)
      })

      it('builds the fixture with docker/Dockerfile: dev tags, OCI labels, HEALTHCHECK kept, runs as 1000, /workspace writable, tests/ and docs/ left out', async () => {
        const lab = loadLab()
        const ref = `localhost/${uniqueName('image-build')}/agent-runner:test`
        const sha = gitHead()
        suiteImages.push(ref)
        track.image(runtime, `localhost/stigmer/agent-runner:dev-${sha.slice(0, 7)}`)
        track.image(runtime, 'localhost/stigmer/agent-runner:v1.2.3')
        const bases = ['--build-arg', `BASE_IMAGE=${lab.python}`, '--build-arg', `BUILDER_IMAGE=${lab.pythonBuilder}`]
        const result = await build(
          ['--source', FIXTURE, '--version', '1.2.3', '--tag', ref, '--json', ...bases],
          BUILD_TIMEOUT,
        )
        expectExit(result, 0)
        timings.push(`${engine}: image build of the fixture ${(result.ms / 1000).toFixed(1)}s`)
        const json = result.json as BuildJson
        expect(json.tags).to.deep.equal([
          LOCAL_DEV_IMAGE,
          `localhost/stigmer/agent-runner:dev-${sha.slice(0, 7)}`,
          'localhost/stigmer/agent-runner:v1.2.3',
          ref,
        ])
        expect(json.revision).to.equal(sha)
        expect(json.version).to.equal('1.2.3')
        expect(json.manifestList).to.equal(false)
        expect(json.context.ignoreFiles).to.deep.equal([join(REPO_ROOT, 'docker', 'Dockerfile.dockerignore')])
        expect(json.context.ignored).to.be.greaterThan(0)
        expect(stagedDirsIn(tmp), 'the staged build context is removed').to.deep.equal([])

        const info = await runtime.inspectImage(ref)
        expect(info, `${ref} exists`).to.not.equal(undefined)
        expect(info!.id).to.equal(json.id)
        expect(Object.values(json.sizes)).to.deep.equal([info!.size])
        for (const tag of json.tags.slice(1, 3)) expect((await runtime.inspectImage(tag))?.id, tag).to.equal(info!.id)
        expect(info!.user).to.equal('1000:1000')
        expect(info!.labels).to.include({
          'org.opencontainers.image.revision': sha,
          'org.opencontainers.image.version': '1.2.3',
        })
        expect(info!.labels['org.opencontainers.image.created']).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        // The HEALTHCHECK itself, with its timings: the io.stigmer.healthcheck label fallback has none.
        expect(info!.healthcheck, 'HEALTHCHECK in the image config').to.include({
          intervalMs: 30_000,
          retries: 3,
          timeoutMs: 10_000,
        })
        expect(info!.healthcheck!.startPeriodMs).to.be.greaterThan(0)
        built = {info: info!, json, ref}

        const probe = engineCommand(engine, [
          'run',
          '--rm',
          '--entrypoint',
          '/bin/sh',
          ref,
          '-c',
          'id -u; id -g; touch /workspace/probe && echo workspace-writable; stat -c "%u:%g" /workspace /app; ' +
            'find / -xdev \\( -name test_fixture_is_not_shipped.py -o -name not-shipped.md \\) -print | sed "s/^/LEAKED /"; ' +
            'test -d /app/tests && echo LEAKED-tests-dir; test -d /app/docs && echo LEAKED-docs-dir; command -v poetry && echo LEAKED-poetry; echo done',
        ])
        expect(probe.status, probe.stderr).to.equal(0)
        const lines = probe.stdout.trim().split('\n')
        expect(lines.slice(0, 3)).to.deep.equal(['1000', '1000', 'workspace-writable'])
        expect(lines[3]).to.equal('1000:1000') // /workspace
        expect(probe.stdout).to.not.include('LEAKED')
        expect(lines.at(-1)).to.equal('done')
      })

      it("goes healthy with the image's own health check", async () => {
        expect(built, 'the build test ran').to.not.equal(undefined)
        const workspace = tempDir(`ws-${engine}`)
        chownSync(workspace, 1000, 1000)
        const id = track.container(
          runtime,
          await runtime.createContainer({
            binds: [{containerPath: '/workspace', hostPath: workspace}],
            // Bridge networking: Temporal (the suite's stand-in on the host) is reached through the
            // engine's host alias, which the image's check must resolve inside the container.
            env: {FIXTURE_READY_DELAY: '0.2', TEMPORAL_SERVICE_ADDRESS: `${runtime.hostGatewayName}:7233`},
            extraHosts: extraHostsFor('bridge', capabilitiesOf(runtime)),
            // Docker: the image's own check, every second (its 30 s interval would make this slow). Podman runs checks
            // only on demand here (no systemd) and keeps the image's check as it is: Podman 4's compat API splits an
            // exec-form override's arguments at spaces.
            ...(engine === 'docker'
              ? {healthcheck: {...built.info.healthcheck!, intervalMs: 1000, startPeriodMs: 0}}
              : {}),
            image: built.ref,
            labels: TEST_LABELS,
            name: uniqueName('image-health'),
            network: 'bridge',
          }),
        )
        await runtime.startContainer(id)
        const started = Date.now()
        if (engine === 'podman') {
          // No systemd here: Podman runs checks only on demand.
          await waitFor('a healthy probe', async () => (await runtime.runHealthcheck(id)).status === 'healthy', {
            intervalMs: 500,
            timeoutMs: 60_000,
          })
        }

        const info = await waitFor(
          'health: healthy',
          async () => {
            const c = await runtime.inspectContainer(id)
            return c?.health === 'healthy' ? c : undefined
          },
          {timeoutMs: 60_000},
        )
        timings.push(`${engine}: fixture container healthy after ${((Date.now() - started) / 1000).toFixed(1)}s`)
        expect(info.healthLog.at(-1)?.output).to.match(/^ready: connected to [\d.]+:7233$/m)
        expect(readFileSync(join(workspace, '.agent-runner', 'hello.txt'), 'utf8')).to.match(/uid=1000 gid=1000/)
      })

      it('server start --use-local-image reaches healthy with the image just built', async () => {
        expect(built, 'the build test ran').to.not.equal(undefined)
        // The dev tag is shared: make sure it names this build (another suite may have moved it).
        await runtime.tagImage(built.ref, LOCAL_DEV_IMAGE)
        await clearManagedContainer(runtime, 30_000)
        // The image runs as 1000:1000; this suite runs as root, so give it a workspace it may write.
        const workspace = tempDir(`server-ws-${engine}`)
        chownSync(workspace, 1000, 1000)
        try {
          const args = [
            'server',
            'start',
            '--runtime',
            engine,
            '--use-local-image',
            '--workspace',
            workspace,
            '--json',
            '--timeout',
            '120s',
          ]
          const result = await runCli(args, {env, timeoutMs: 200_000})
          expectExit(result, 0)
          timings.push(`${engine}: server start --use-local-image ${(result.ms / 1000).toFixed(1)}s`)
          expect(result.json).to.deep.include({health: 'healthy', image: LOCAL_DEV_IMAGE})
        } finally {
          await clearManagedContainer(runtime)
        }
      })

      it('login: a wrong password is refused (exit 24) and stores nothing; the right one is stored by the engine, never echoed', async () => {
        const r = registry()
        const authFile = engine === 'docker' ? join(authDir, 'config.json') : join(authDir, 'auth.json')
        const wrong = await runCli(
          ['image', 'login', r.host, '--username', r.user, '--password-stdin', '--runtime', engine],
          {env, input: 'not-the-password\n'},
        )
        expectExit(wrong, 24)
        expect(wrong.stderr).to.include(`${r.host} refused the login for user ${r.user}`)
        expect(wrong.stderr + wrong.stdout).to.not.include('not-the-password')
        expect(existsSync(authFile) ? readFileSync(authFile, 'utf8') : '').to.not.include(r.host)

        const noPassword = await runCli(
          ['image', 'login', r.host, '--username', r.user, '--runtime', engine, '--password', r.password],
          {env},
        )
        expectExit(noPassword, 2)
        expect(noPassword.stderr + noPassword.stdout).to.not.include(r.password)

        const ok = await runCli(
          ['image', 'login', r.host, '--username', r.user, '--password-stdin', '--runtime', engine, '--json'],
          {env, input: `${r.password}\n`},
        )
        expectExit(ok, 0)
        expect(ok.json).to.include({registry: r.host, runtime: engine, username: r.user})
        expect(ok.stdout + ok.stderr).to.not.include(r.password)
        const stored = JSON.parse(readFileSync(authFile, 'utf8')) as {auths: Record<string, {auth: string}>}
        expect(Buffer.from(stored.auths[r.host]!.auth, 'base64').toString()).to.equal(`${r.user}:${r.password}`)
      })

      it("logout: removes the login from the engine's store (Podman's own CLI then finds none); a second one has nothing to remove; a missing helper is exit 25 on login", async () => {
        const r = registry()
        // Its own auth files: the suite's login (authDir) stays for the push tests after this one.
        const ownDir = tempDir(`logout-${engine}`)
        const ownEnv = {...env, DOCKER_CONFIG: ownDir, REGISTRY_AUTH_FILE: join(ownDir, 'auth.json')}
        const authFile = engine === 'docker' ? join(ownDir, 'config.json') : join(ownDir, 'auth.json')
        const login = await runCli(
          ['image', 'login', r.host, '--username', r.user, '--password-stdin', '--runtime', engine],
          {env: ownEnv, input: `${r.password}\n`},
        )
        expectExit(login, 0)
        expect(readFileSync(authFile, 'utf8')).to.include(r.host)

        const out = await runCli(['image', 'logout', r.host, '--runtime', engine, '--json'], {env: ownEnv})
        expectExit(out, 0)
        expect(out.json).to.deep.include({registry: r.host, removed: true})
        expect(readFileSync(authFile, 'utf8')).to.not.include(r.host)
        // Podman's own CLI agrees: nothing stored for the registry any more. (docker logout says
        // "Removing login credentials" whether or not there were any, so only the file tells.)
        if (engine === 'podman') {
          const check = engineCommand('podman', ['login', '--get-login', '--authfile', authFile, r.host])
          expect(check.status).to.not.equal(0)
          expect(`${check.stdout}${check.stderr}`).to.match(/not logged in/i)
        }

        const again = await runCli(['image', 'logout', r.host, '--runtime', engine], {env: ownEnv})
        expectExit(again, 0)
        expect(again.stdout).to.include(`Nothing to remove: no stored login to ${r.host}.`)

        // A credential helper the config names but that is not installed: its own error, nothing written in plain text.
        const helperDir = tempDir(`helper-${engine}`)
        const file = engine === 'docker' ? join(helperDir, 'config.json') : join(helperDir, 'auth.json')
        const content = JSON.stringify(
          engine === 'docker' ? {credsStore: 'nonexistent'} : {credHelpers: {[r.host]: 'nonexistent'}},
        )
        writeFileSync(file, content)
        const missing = await runCli(
          ['image', 'login', r.host, '--username', r.user, '--password-stdin', '--runtime', engine, '--json'],
          {
            env: {...env, DOCKER_CONFIG: helperDir, REGISTRY_AUTH_FILE: join(helperDir, 'auth.json')},
            input: `${r.password}\n`,
          },
        )
        expectExit(missing, 25)
        expect((missing.json as {error: {code: string}}).error.code).to.equal('CREDENTIAL_HELPER')
        expect(missing.stdout + missing.stderr).to.not.include(r.password)
        expect(readFileSync(file, 'utf8')).to.equal(content)
      })

      it('push --version 1.2.3: the registry holds exactly v1.2.3, v1.2, v1, latest; a pre-release adds only its own tag; an older patch never moves v1 or latest; pull back by digest', async () => {
        expect(built, 'the build test ran').to.not.equal(undefined)
        const repo = `${uniqueName(`push-${engine}`)}/agent-runner`
        repos.push(repo)
        const repository = `${registry().host}/${repo}`
        const release = await push(repository, ['--version', '1.2.3', '--json'])
        expectExit(release, 0)
        timings.push(`${engine}: image push of 4 tags ${(release.ms / 1000).toFixed(1)}s`)
        const json = release.json as PushJson
        expect(json).to.deep.include({
          dryRun: false,
          kind: 'release',
          repository,
          tags: ['v1.2.3', 'v1.2', 'v1', 'latest'],
        })
        expect(await registryTags(repo)).to.deep.equal(['latest', 'v1', 'v1.2', 'v1.2.3'])
        const {digest} = await registryManifest(repo, 'v1.2.3')
        expect(json.digest).to.equal(digest)
        for (const tag of ['v1.2', 'v1', 'latest'])
          expect((await registryManifest(repo, tag)).digest, tag).to.equal(digest)
        // The local tags the push needed are gone again.
        expect(await runtime.imageExists(`${repository}:v1.2.3`)).to.equal(false)

        const rc = await push(repository, ['--version', '1.3.0-rc.1', '--json'])
        expectExit(rc, 0)
        expect((rc.json as PushJson).tags).to.deep.equal(['v1.3.0-rc.1'])
        expect(await registryTags(repo)).to.deep.equal(['latest', 'v1', 'v1.2', 'v1.2.3', 'v1.3.0-rc.1'])
        expect((await registryManifest(repo, 'latest')).digest, 'latest did not move').to.equal(digest)

        // A patch of an older line: v1.1.9 and v1.1, while v1 and latest stay with 1.2.3 (read from the registry's tag list).
        const patch = await push(repository, ['--version', '1.1.9', '--json'])
        expectExit(patch, 0)
        expect(patch.json).to.deep.include({
          held: [
            {newer: 'v1.2.3', tag: 'v1'},
            {newer: 'v1.2.3', tag: 'latest'},
          ],
          tags: ['v1.1.9', 'v1.1'],
        })
        expect(await registryTags(repo)).to.deep.equal([
          'latest',
          'v1',
          'v1.1',
          'v1.1.9',
          'v1.2',
          'v1.2.3',
          'v1.3.0-rc.1',
        ])

        const byDigest = `${repository}@${digest}`
        track.image(runtime, byDigest)
        const pulled = await pull(byDigest)
        expectExit(pulled, 0)
        expect(pulled.json).to.deep.include({digest, id: built.info.id, ref: byDigest})
        expect((pulled.json as {sizeBytes?: number}).sizeBytes).to.be.greaterThan(0)
      })

      it('push without --version is dev-<commit> from the revision label; --dry-run lists it and pushes nothing', async () => {
        const repo = `${uniqueName(`dry-${engine}`)}/agent-runner`
        repos.push(repo)
        const repository = `${registry().host}/${repo}`
        const dry = await push(repository, ['--dry-run', '--json'], {env})
        expectExit(dry, 0)
        expect(dry.json).to.deep.include({
          dryRun: true,
          kind: 'development',
          pushed: [],
          tags: [`dev-${gitHead().slice(0, 7)}`],
        })
        const human = await push(repository, ['--version', '2.0.0', '--dry-run'], {env})
        expectExit(human, 0)
        for (const tag of ['v2.0.0', 'v2.0', 'v2', 'latest']) expect(human.stdout).to.include(`${repository}:${tag}`)
        expect(human.stdout).to.include('Nothing was pushed')
        expect(await registryTags(repo)).to.equal(undefined)
      })

      it('an invalid --version is a usage error (exit 2) before anything is pushed', async () => {
        const repo = `${uniqueName(`badver-${engine}`)}/agent-runner`
        repos.push(repo)
        for (const version of ['1.2', 'v1.2.3.4', '1.2.3+build.1', 'latest']) {
          const result = await push(`${registry().host}/${repo}`, ['--version', version], {env})
          expectExit(result, 2)
        }

        expect(await registryTags(repo)).to.equal(undefined)
      })

      it('a wrong stored password: exit 24 naming the registry and the user and how to log in; nothing is pushed', async () => {
        const r = registry()
        const badDir = tempDir(`badauth-${engine}`)
        const auth = {auths: {[r.host]: {auth: Buffer.from(`${r.user}:wrong-password`).toString('base64')}}}
        writeFileSync(join(badDir, 'config.json'), JSON.stringify(auth))
        writeFileSync(join(badDir, 'auth.json'), JSON.stringify(auth))
        const repo = `${uniqueName(`denied-${engine}`)}/agent-runner`
        repos.push(repo)
        const result = await push(`${r.host}/${repo}`, ['--version', '1.2.3'], {
          env: {...env, DOCKER_CONFIG: badDir, REGISTRY_AUTH_FILE: join(badDir, 'auth.json')},
          timeoutMs: 120_000,
        })
        expectExit(result, 24)
        expect(result.stderr).to.include(`${r.host} refused user ${r.user}: ${r.host}/${repo}:v1.2.3 was not pushed.`)
        expect(result.stderr).to.include(`stigmer image login ${r.host} --username ${r.user} --password-stdin`)
        expect(result.stderr).to.include('exit code 24: REGISTRY_AUTH')
        expect(await registryTags(repo)).to.equal(undefined)
        expect(await runtime.imageExists(`${r.host}/${repo}:v1.2.3`)).to.equal(false)
      })

      it('a failing build step exits 22 showing that step, its instruction and its output; the staged context is removed', async () => {
        const lab = loadLab()
        const project = toyProject(
          tempDir(`failing-${engine}`),
          [
            `FROM ${lab.busybox}`,
            `LABEL ${RUN_LABEL[0]}=${RUN_LABEL[1]}`,
            'RUN echo an-earlier-step-passed',
            'RUN echo output-of-the-failing-step && echo on-stderr-too >&2 && exit 7',
            'CMD ["true"]',
          ].join('\n') + '\n',
        )
        const ref = `localhost/${uniqueName('failing')}/x:never`
        track.image(runtime, ref)
        const result = await build([...project, '--tag', ref], 120_000)
        pruneRunImages(engine)
        expectExit(result, 22)
        expect(result.stderr).to.match(/The image build failed at step 4\/\d+:/)
        expect(result.stderr).to.include(
          'Failed command: RUN echo output-of-the-failing-step && echo on-stderr-too >&2 && exit 7',
        )
        expect(result.stderr).to.match(
          /Last output of that step:\n {2}output-of-the-failing-step\n {2}on-stderr-too|Last output of that step:\n {2}on-stderr-too\n {2}output-of-the-failing-step/,
        )
        expect(result.stderr).to.include('exit code 22: BUILD_FAILED')
        expect(stagedDirsIn(tmp)).to.deep.equal([])
        expect(await runtime.imageExists(ref)).to.equal(false)

        const json = await build([...project, '--tag', ref, '--json'], 120_000)
        pruneRunImages(engine)
        expectExit(json, 22)
        const {error} = json.json as ErrorJson
        expect(error).to.include({code: 'BUILD_FAILED', exit: 22, kind: 'external'})
        expect(error.data!.output).to.include('output-of-the-failing-step')
      })

      it('usage errors come before any build: bad --version, --build-arg, --platform, --source', async () => {
        const cases: Array<[string[], RegExp]> = [
          [['--version', '1.2'], /is not a semantic version/],
          [['--build-arg', 'NOT VALID=1'], /--build-arg/],
          [['--build-arg', 'VERSION=1.2.3'], /--version X.Y.Z/],
          [['--platform', 'amd64'], /os\/arch/],
        ]
        for (const [extra, message] of cases) {
          const result = await build(['--source', FIXTURE, ...extra])
          expectExit(result, 2)
          expect(result.stderr).to.match(message)
        }

        for (const [extra, message] of [
          [['--source', join(tmp, 'missing')], /no such folder/],
          [['--source', FIXTURE, '--file', join(tmp, 'missing')], /no such file/],
        ] as Array<[string[], RegExp]>) {
          const result = await build(extra)
          expectExit(result, 2)
          expect(result.stderr).to.match(message)
        }
      })
    })
  }

  describe('multi-arch', () => {
    it('Docker without buildx says so clearly (exit 22) and builds nothing', async function () {
      if (!ENGINES.some((e) => e.name === 'docker')) this.skip()
      const project = toyProject(tempDir('multi-docker'), `FROM ${loadLab().busybox}\n`)
      const result = await runCli(
        ['image', 'build', '--runtime', 'docker', ...project, '--platform', 'linux/amd64,linux/arm64'],
        {env: engineEnv('docker')},
      )
      expectExit(result, 22)
      expect(result.stderr).to.include('buildx')
      expect(result.stderr).to.include('--runtime podman')
      expect(result.stderr).to.not.include('image push --platform')
    })

    describe('Podman: a manifest list, pushed, and its arm64 image run under qemu', () => {
      let runtime: ContainerRuntime
      const repos: string[] = []
      let authDir: string

      before(function () {
        const lab = loadLab()
        if (!ENGINES.some((e) => e.name === 'podman')) this.skip()
        if (!lab.qemu || !lab.busyboxArm64) {
          if (process.env.CI === 'true')
            throw new Error('The lab has no qemu or arm64 busybox: multi-arch must run in CI.')
          console.warn('\n  SKIPPING multi-arch: the lab has no qemu binfmt or arm64 busybox (scripts/lab.sh).\n')
          this.skip()
        }

        runtime = runtimeFor('podman')
        authDir = tempDir('auth-multi')
      })

      preserveDevImage('podman', () => runtime)

      after(async function () {
        this.timeout(120_000)
        engineCommand('podman', ['logout', '--authfile', join(authDir, 'auth.json'), registry().host])
        for (const repo of repos) await deleteRepository(repo)
        pruneRunImages('podman')
      })

      it('builds linux/amd64,linux/arm64, pushes the list with both platforms, and the arm64 variant prints aarch64', async () => {
        const lab = loadLab()
        const r = registry()
        const env = {...engineEnv('podman'), DOCKER_CONFIG: authDir, REGISTRY_AUTH_FILE: join(authDir, 'auth.json')}
        // A base with both architectures: the lab busybox under one name, a tag per arch.
        const base = `localhost/${uniqueName('multi-base')}/busybox`
        await runtime.tagImage(lab.busybox, `${base}:amd64`)
        await runtime.tagImage(lab.busyboxArm64!, `${base}:arm64`)
        track.image(runtime, `${base}:amd64`)
        track.image(runtime, `${base}:arm64`)
        const source = tempDir('multi-src')
        mkdirSync(join(source, 'tests'))
        writeFileSync(join(source, 'tests', 'left-out.txt'), 'no\n')
        writeFileSync(join(source, '.dockerignore'), 'tests/\n')
        writeFileSync(join(source, 'hello.txt'), 'hello\n')
        const project = toyProject(
          source,
          [
            'ARG BASE',
            'ARG TARGETARCH',
            // eslint-disable-next-line no-template-curly-in-string -- Dockerfile syntax, not a JS template
            'FROM ${BASE}:${TARGETARCH}',
            `LABEL ${RUN_LABEL[0]}=${RUN_LABEL[1]}`,
            'COPY . /src',
            'RUN uname -m > /built-on && ls /src > /listing',
            'CMD ["sh", "-c", "uname -m; cat /built-on /listing"]',
          ].join('\n') + '\n',
        )
        const list = `localhost/${uniqueName('multi')}/agent-runner:list`
        track.image(runtime, list)
        const build = await runCli(
          [
            'image',
            'build',
            '--runtime',
            'podman',
            ...project,
            '--platform',
            'linux/amd64,linux/arm64',
            '--build-arg',
            `BASE=${base}`,
            '--tag',
            list,
            '--json',
          ],
          {
            env,
            timeoutMs: BUILD_TIMEOUT,
          },
        )
        expectExit(build, 0)
        timings.push(`podman: multi-arch build (amd64 + arm64 under qemu) ${(build.ms / 1000).toFixed(1)}s`)
        expect(build.json).to.deep.include({manifestList: true, platforms: ['linux/amd64', 'linux/arm64']})
        expect((build.json as BuildJson).tags).to.include.members([LOCAL_DEV_IMAGE, list])

        const login = await runCli(
          ['image', 'login', r.host, '--username', r.user, '--password-stdin', '--runtime', 'podman'],
          {env, input: r.password},
        )
        expectExit(login, 0)
        const repo = `${uniqueName('multi-push')}/agent-runner`
        repos.push(repo)
        const push = await runCli(
          [
            'image',
            'push',
            '--runtime',
            'podman',
            '--image',
            list,
            '--repository',
            `${r.host}/${repo}`,
            '--version',
            '2.0.0',
            '--json',
          ],
          {env, timeoutMs: 300_000},
        )
        expectExit(push, 0)
        expect(push.json).to.deep.include({manifestList: true, tags: ['v2.0.0', 'v2.0', 'v2', 'latest']})
        expect(await registryTags(repo)).to.deep.equal(['latest', 'v2', 'v2.0', 'v2.0.0'])
        const manifest = await registryManifest(repo, 'v2.0.0')
        expect(manifest.body.mediaType).to.match(/manifest\.list|image\.index/)
        expect(manifest.body.manifests!.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort()).to.deep.equal(
          ['linux/amd64', 'linux/arm64'],
        )
        expect((push.json as PushJson).digest).to.equal(manifest.digest)

        // Pull the arm64 image back from the registry and run it under emulation.
        const arm = `${r.host}/${repo}:v2.0.0`
        track.image(runtime, arm)
        await runtime.pullImage(arm, {
          credentials: {password: r.password, registry: r.host, username: r.user},
          platform: 'linux/arm64',
        })
        expect((await runtime.inspectImage(arm))?.architecture).to.equal('arm64')
        const id = track.container(
          runtime,
          await runtime.createContainer({
            binds: [],
            env: {},
            image: arm,
            labels: TEST_LABELS,
            name: uniqueName('arm64'),
            network: 'bridge',
          }),
        )
        await runtime.startContainer(id)
        await waitFor(
          'the arm64 container to exit',
          async () => (await runtime.inspectContainer(id))?.running === false,
          {timeoutMs: 60_000},
        )
        const output: string[] = []
        for await (const line of runtime.logs(id)) output.push(line.text)
        expect(output).to.deep.equal(['aarch64', 'aarch64', 'Dockerfile', 'hello.txt', 'main.py', 'pyproject.toml'])
      })
    })
  })
})

/**
 * Smoke tests: the BUILT CLI (bin/run.js, dist/) as a user runs it. Each test
 * spawns it, parses stdout under --json and checks the exit code against
 * docs/exit-codes.md.
 *
 * The engine-detection failures are produced for real, not faked: a mount
 * namespace with an empty /run hides the engine sockets (root only; CI runs as
 * root), a dead socket is a daemon that is not running, and a socket owned by
 * root with mode 600 refuses an unprivileged user.
 */
import {expect} from 'chai'
import {chmodSync, chownSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'

import {type CliResult, IN_CI, loadLab, REPO_ROOT, runCli, stigmerHome, tempDir} from '../helpers/lab.js'

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string}).version
const PINNED = `ghcr.io/stigmer/agent-runner:v${VERSION}`

interface ErrorJson {
  error: {
    code: string
    data?: Record<string, unknown>
    details?: string
    exit: number
    kind: string
    message: string
    suggestions?: string[]
  }
  status: number
}

function errorOf(result: CliResult): ErrorJson['error'] {
  expect(result.json, `stdout is not one JSON object:\n${result.stdout}\nstderr:\n${result.stderr}`).to.be.an('object')
  const body = result.json as ErrorJson
  expect(body.status).to.equal(result.code)
  expect(body.error.exit).to.equal(result.code)
  return body.error
}

/** Runs that need root (mount namespaces, other uids): under CI a failure if not root, else a loud skip. */
function requireRoot(): void {
  // eslint-disable-next-line mocha/no-top-level-hooks -- registered inside the calling describe
  before(function () {
    if (process.getuid?.() === 0) return
    const text = 'These smoke tests need root (mount namespaces and other users).'
    if (IN_CI) throw new Error(`${text} CI=true runs as root.`)
    console.warn(`\n!!! SKIPPING: ${text} Run them as root (npm test does).\n`)
    this.skip()
  })
}

async function listenOn(path: string): Promise<Server> {
  const server = createServer((c) => c.end())
  await new Promise<void>((resolve) => {
    server.listen(path, resolve)
  })
  return server
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
  })
}

/** A PATH with node on it and nothing else: no docker, no podman. */
function bareBin(): string {
  const dir = tempDir('bin')
  chmodSync(dir, 0o755)
  symlinkSync(process.execPath, join(dir, 'node'))
  return dir
}

/** uid/gid of an unprivileged user: the lab's test user, else nobody. */
function unprivileged(): {gid: number; uid: number} {
  let name = 'nobody'
  try {
    name = loadLab().testUser ?? name
  } catch {
    // no lab: nobody will do
  }

  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`))
  const fields = (line ?? 'nobody:x:65534:65534').split(':')
  return {gid: Number(fields[3]), uid: Number(fields[2])}
}

/**
 * The environment of a machine with nothing installed: PATH without docker or
 * podman, no DOCKER_HOST / CONTAINER_HOST, an empty HOME, an empty XDG_RUNTIME_DIR.
 */
function bareEnv(owner?: {gid: number; uid: number}): Record<string, string> {
  const home = tempDir('user-home')
  const stigmer = stigmerHome()
  if (owner) {
    chownSync(home, owner.uid, owner.gid)
    chownSync(stigmer, owner.uid, owner.gid)
  }

  return {HOME: home, LANG: 'C.UTF-8', PATH: bareBin(), STIGMER_HOME: stigmer, XDG_RUNTIME_DIR: ''}
}

/**
 * Runs the CLI in a new mount namespace whose /run (and so /var/run) is an empty
 * tmpfs: the engines' sockets do not exist there. `setup` runs first, as root,
 * inside the namespace. `as` drops to that uid with no supplementary groups.
 */
async function runIsolated(
  args: string[],
  options: {as?: {gid: number; uid: number}; env?: Record<string, string>; setup?: string} = {},
): Promise<CliResult> {
  const drop = options.as
    ? `exec /usr/bin/setpriv --reuid=${options.as.uid} --regid=${options.as.gid} --clear-groups "$@"`
    : 'exec "$@"'
  const script = ['set -e', '/usr/bin/mount -t tmpfs stigmer-test /run', options.setup ?? ':', drop].join('\n')
  return runCli(args, {
    cleanEnv: true,
    env: {...bareEnv(options.as), ...options.env},
    wrapper: ['/usr/bin/unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'stigmer-smoke'],
  })
}

describe('smoke: the built CLI', function () {
  this.timeout(60_000)

  describe('version, help', () => {
    it('version --json: the CLI version and the image it pins (v<package.json version>)', async () => {
      const result = await runCli(['version', '--json'], {env: {STIGMER_AGENT_RUNNER_IMAGE: undefined}})
      expect(result.code).to.equal(0)
      expect(result.stderr).to.equal('')
      const json = result.json as {
        arch: string
        cli: string
        image: {expected: string; override?: string; pinned: string; source: string}
        node: string
        platform: string
      }
      expect(json.cli).to.equal(VERSION)
      expect(json.image).to.deep.equal({expected: PINNED, pinned: PINNED, source: 'pinned'})
      expect(json.node).to.equal(process.version)
      expect(json.platform).to.equal(process.platform)
    })

    it('version --json with STIGMER_AGENT_RUNNER_IMAGE: expected is the override, and the override is shown', async () => {
      const override = '127.0.0.1:5000/me/agent-runner:dev'
      const result = await runCli(['version', '--json'], {env: {STIGMER_AGENT_RUNNER_IMAGE: override}})
      expect(result.code).to.equal(0)
      expect((result.json as {image: unknown}).image).to.deep.equal({
        expected: override,
        override: `STIGMER_AGENT_RUNNER_IMAGE=${override}`,
        pinned: PINNED,
        source: 'STIGMER_AGENT_RUNNER_IMAGE',
      })
    })

    it('version --json names the engine stigmer would use: Docker when both answer, Podman when chosen', async () => {
      const lab = loadLab()
      expect(lab.engines, 'the lab runs both engines').to.include.members(['docker', 'podman'])
      const auto = await runCli(['version', '--json'], {
        env: {DOCKER_HOST: undefined, STIGMER_CONTAINER_RUNTIME: undefined},
      })
      const podman = await runCli(['version', '--json'], {
        env: {DOCKER_HOST: undefined, STIGMER_CONTAINER_RUNTIME: 'podman'},
      })
      type Engine = {endpoint: string; product: string; runtime: string}
      expect(auto.code).to.equal(0)
      expect((auto.json as {engine: Engine}).engine).to.include({
        endpoint: 'unix:///var/run/docker.sock',
        runtime: 'docker',
      })
      expect(podman.code).to.equal(0)
      const chosen = (podman.json as {engine: Engine}).engine
      expect(chosen.runtime).to.equal('podman')
      expect(chosen.product).to.match(/podman/i)
    })

    it('version without --json prints lines for a person, naming version and image', async () => {
      const result = await runCli(['version'], {env: {STIGMER_AGENT_RUNNER_IMAGE: undefined}})
      expect(result.code).to.equal(0)
      expect(result.stdout)
        .to.contain(`stigmer ${VERSION}`)
        .and.contain(`agent-runner image: ${PINNED} (pinned to this CLI version)`)
    })

    it('--version prints the CLI version and exits 0', async () => {
      const result = await runCli(['--version'])
      expect(result.code).to.equal(0)
      expect(result.stdout).to.contain(`@stigmer/cli/${VERSION}`)
    })

    it('--help lists the topics and commands and exits 0; help server lists its commands', async () => {
      const help = await runCli(['--help'])
      expect(help.code).to.equal(0)
      expect(help.stdout)
        .to.contain('USAGE')
        .and.match(/\bserver\b/)
        .and.match(/\bversion\b/)
      const server = await runCli(['help', 'server'])
      expect(server.code).to.equal(0)
      expect(server.stdout).to.contain('stigmer server').and.contain('server status')
    })

    it('an unknown command exits 2 with a usage error that points to --help (JSON under --json)', async () => {
      const result = await runCli(['no-such-command'])
      expect(result.code).to.equal(2)
      expect(result.stderr).to.contain('"no-such-command" is not a stigmer command')
      expect(result.stderr).to.contain('stigmer --help')
      const json = await runCli(['serve', 'start', '--json'])
      expect(json.code).to.equal(2)
      const error = errorOf(json)
      expect(error).to.deep.include({code: 'USAGE', exit: 2})
      expect(JSON.stringify(error)).to.contain('stigmer server start')
    })
  })

  describe('usage errors (exit 2, code USAGE)', () => {
    it('an unknown flag', async () => {
      const error = errorOf(await runCli(['server', 'status', '--json', '--no-such-flag']))
      expect(error).to.deep.include({code: 'USAGE', exit: 2})
      expect(error.message).to.contain('--no-such-flag')
    })

    it('image references: a short digest, a 20 KB name, a tag over 128, a --version tag over 128: exit 2, not echoed whole', async () => {
      const runs = await Promise.all([
        runCli(['image', 'pull', '--json', '--image', `ghcr.io/x/y@sha256:${'a'.repeat(70)}`]),
        runCli(['image', 'pull', '--json', '--image', `ghcr.io/x/${'a'.repeat(20_000)}:v1`]),
        runCli(['image', 'pull', '--json', '--image', `ghcr.io/x/y:${'t'.repeat(129)}`]),
        runCli(['image', 'push', '--json', '--dry-run', '--version', `1.0.0-${'r'.repeat(130)}`]),
      ])
      const messages = runs
        .map((r) => errorOf(r))
        .map((e) => {
          expect(e).to.deep.include({code: 'USAGE', exit: 2})
          return e.message
        })
      expect(messages[0]).to.contain('a sha256 digest has exactly 64 hex digits, not 70')
      expect(messages[1]).to.contain('a name (registry/repository) has at most 255')
      expect(messages[2]).to.contain('the tag has 129 characters')
      expect(messages[3]).to.contain('an image tag has at most 128')
      for (const r of runs) expect(r.stdout.length + r.stderr.length).to.be.lessThan(2000)
    })

    it('image logout: clears both stores without an engine; --runtime other than docker or podman is a usage error', async () => {
      const dir = tempDir('logout')
      writeFileSync(join(dir, 'config.json'), JSON.stringify({auths: {'127.0.0.1:5000': {auth: 'eDp5'}}}))
      writeFileSync(join(dir, 'auth.json'), JSON.stringify({auths: {'https://127.0.0.1:5000': {auth: 'eDp5'}}}))
      const env = {DOCKER_CONFIG: dir, DOCKER_HOST: 'unix:///nonexistent', REGISTRY_AUTH_FILE: join(dir, 'auth.json')}
      const result = await runCli(['image', 'logout', '127.0.0.1:5000', '--json'], {env})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.json).to.deep.include({registry: '127.0.0.1:5000', removed: true})
      expect(readFileSync(join(dir, 'config.json'), 'utf8')).to.not.contain('127.0.0.1:5000')
      expect(readFileSync(join(dir, 'auth.json'), 'utf8')).to.not.contain('127.0.0.1:5000')
      const bogus = errorOf(await runCli(['image', 'logout', '--runtime', 'banana', '--json'], {env}))
      expect(bogus).to.deep.include({code: 'USAGE', exit: 2})
    })

    it('--runtime bogus names the value, where it came from, and the runtimes there are', async () => {
      const result = await runCli(['server', 'status', '--json', '--runtime', 'bogus'])
      expect(result.code).to.equal(2)
      const error = errorOf(result)
      expect(error).to.deep.include({
        code: 'USAGE',
        kind: 'user',
        message: 'Unknown container runtime "bogus" (from --runtime).',
      })
      expect(error.suggestions).to.deep.equal(['Use one of: docker, podman.'])
    })

    it('STIGMER_CONTAINER_RUNTIME=bogus and runtime: bogus in the config file say where the value came from', async () => {
      const fromEnv = errorOf(await runCli(['server', 'status', '--json'], {env: {STIGMER_CONTAINER_RUNTIME: 'bogus'}}))
      expect(fromEnv.message).to.equal('Unknown container runtime "bogus" (from STIGMER_CONTAINER_RUNTIME).')
      const home = stigmerHome()
      writeFileSync(join(home, 'config.yaml'), 'runtime: bogus\n')
      const fromConfig = errorOf(
        await runCli(['server', 'status', '--json'], {env: {STIGMER_CONTAINER_RUNTIME: undefined, STIGMER_HOME: home}}),
      )
      expect(fromConfig.exit).to.equal(2)
      expect(fromConfig.message).to.contain(`(from runtime in ${join(home, 'config.yaml')})`)
    })

    it('a malformed DOCKER_HOST: JSON on stdout under --json; the text form on stderr without it', async () => {
      const result = await runCli(['server', 'status', '--json'], {env: {DOCKER_HOST: 'tcp//oops'}})
      expect(result.code).to.equal(2)
      const error = errorOf(result)
      expect(error.code).to.equal('USAGE')
      expect(error.message).to.equal('DOCKER_HOST="tcp//oops" is not a valid engine endpoint: it has no scheme.')
      expect(error.suggestions?.[1]).to.equal('Or unset DOCKER_HOST to let stigmer find the engine.')
      const text = await runCli(['server', 'status'], {env: {DOCKER_HOST: 'tcp//oops'}})
      expect(text.code).to.equal(2)
      expect(text.stdout).to.equal('')
      expect(text.stderr)
        .to.contain('Error: DOCKER_HOST="tcp//oops"')
        .and.contain('(exit code 2: USAGE; see docs/exit-codes.md)')
    })
  })

  it('DEBUG=*: a password on the command line never reaches the debug output, and stderr says DEBUG is on', async () => {
    const secret = `hunter2-${Date.now()}`
    const result = await runCli(['image', 'login', '127.0.0.1:5000', '-u', 'me', '--password', secret], {
      env: {DEBUG: '*'},
    })
    expect(result.stderr).to.contain('oclif:config runCommand').and.contain('DEBUG is set')
    expect(result.stderr + result.stdout).not.to.contain(secret)
  })

  it('an invalid config file exits 50 (CONFIG), naming the file and the bad key', async () => {
    const home = stigmerHome()
    writeFileSync(join(home, 'config.yaml'), 'runtme: docker\n')
    const error = errorOf(
      await runCli(['server', 'status', '--json'], {env: {STIGMER_CONTAINER_RUNTIME: undefined, STIGMER_HOME: home}}),
    )
    expect(error).to.deep.include({code: 'CONFIG', exit: 50})
    expect(error.message).to.contain(join(home, 'config.yaml')).and.contain('unknown key "runtme"')
  })

  describe('a named endpoint that does not answer is exit 11, never another engine', () => {
    const cases: Array<[string, string]> = [
      ['unix:///nonexistent/docker.sock', 'no socket at /nonexistent/docker.sock'],
      ['ssh://nobody@127.0.0.1:1', 'connection refused at 127.0.0.1:1 (no SSH server there)'],
    ]
    for (const [value, detail] of cases) {
      it(`DOCKER_HOST=${value}: exit 11 RUNTIME_UNREACHABLE naming it, no bug report, no DEP0170`, async () => {
        const result = await runCli(['server', 'status', '--json'], {
          env: {
            CONTAINER_HOST: undefined,
            DOCKER_CONTEXT: undefined,
            DOCKER_HOST: value,
            STIGMER_CONTAINER_RUNTIME: undefined,
          },
        })
        expect(result.code, result.stdout + result.stderr).to.equal(11)
        const error = errorOf(result)
        expect(error.code).to.equal('RUNTIME_UNREACHABLE')
        expect(error.message).to.contain(`${value} (from DOCKER_HOST) does not answer: ${detail}`)
        expect(error.suggestions?.join('\n')).to.contain('unset DOCKER_HOST').and.not.contain('bug')
        // Only the named endpoint was probed: whatever else runs on this machine was not used instead.
        expect((error.data?.probed as Array<{endpoint: string}>).map((p) => p.endpoint)).to.deep.equal([value])
        expect(result.stderr).to.not.contain('DEP0170')
      })
    }
  })

  describe('no usable engine: the three failures (exit 10, 11, 12)', () => {
    requireRoot()

    it('nothing installed: exit 10 NO_RUNTIME, naming Docker Desktop and `apt install podman`', async () => {
      const result = await runIsolated(['server', 'status', '--json'])
      expect(result.code, result.stdout + result.stderr).to.equal(10)
      const error = errorOf(result)
      expect(error.code).to.equal('NO_RUNTIME')
      expect(error.message).to.equal(
        'No container engine found: stigmer needs Docker or Podman to run the agent-runner.',
      )
      const hints = (error.suggestions ?? []).join('\n')
      expect(hints).to.contain('Docker Desktop').and.contain('apt install podman')
      const probed = (error.data?.probed ?? []) as Array<{endpoint: string; state: string}>
      expect(probed).to.deep.include({
        detail: 'no socket at /var/run/docker.sock',
        endpoint: 'unix:///var/run/docker.sock',
        runtime: 'docker',
        source: 'default socket',
        state: 'absent',
      })
      expect(probed.every((p) => p.state === 'absent')).to.equal(true)
    })

    it('nothing installed, without --json: the same on stderr for a person', async () => {
      const result = await runIsolated(['server', 'status'])
      expect(result.code).to.equal(10)
      expect(result.stdout).to.equal('')
      expect(result.stderr)
        .to.contain('Error: No container engine found')
        .and.contain('Try this:')
        .and.contain('Docker Desktop')
        .and.contain('sudo apt install podman')
        .and.contain('(exit code 10: NO_RUNTIME; see docs/exit-codes.md)')
    })

    it('nothing installed: version still works (it never needs an engine) and reports none', async () => {
      const result = await runIsolated(['version', '--json'])
      expect(result.code).to.equal(0)
      expect((result.json as {engine: unknown}).engine).to.equal(null)
    })

    it('installed but not running (a socket nobody answers on): exit 11 RUNTIME_UNREACHABLE with start hints', async () => {
      // What a stopped daemon leaves behind: the socket file, nobody listening.
      const setup = `${process.execPath} -e "require('net').createServer().listen('/run/docker.sock', () => process.exit(0))"`
      const result = await runIsolated(['server', 'status', '--json'], {setup})
      expect(result.code, result.stdout + result.stderr).to.equal(11)
      const error = errorOf(result)
      expect(error.code).to.equal('RUNTIME_UNREACHABLE')
      expect(error.message).to.match(
        /^Docker is installed but not running or not answering at unix:\/\/\/var\/run\/docker\.sock \(connection refused/,
      )
      expect((error.suggestions ?? []).join('\n')).to.contain('systemctl start docker')
    })

    describe('permission denied', () => {
      let server: Server
      let socket: string

      before(async () => {
        const dir = tempDir('perm')
        chmodSync(dir, 0o755)
        socket = join(dir, 'docker.sock')
        server = await listenOn(socket)
        chmodSync(socket, 0o600) // root's, and only root's
      })

      after(async () => closeServer(server))

      it('a socket this user may not open: exit 12 RUNTIME_PERMISSION naming it, with the docker-group hint', async () => {
        const result = await runIsolated(['server', 'status', '--json'], {
          as: unprivileged(),
          env: {DOCKER_HOST: `unix://${socket}`},
        })
        expect(result.code, result.stdout + result.stderr).to.equal(12)
        const error = errorOf(result)
        expect(error.code).to.equal('RUNTIME_PERMISSION')
        expect(error.message).to.equal(`Permission denied on ${socket}: this user may not use Docker.`)
        expect((error.suggestions ?? []).join('\n')).to.contain('usermod -aG docker')
      })
    })
  })
})

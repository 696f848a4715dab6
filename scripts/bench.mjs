#!/usr/bin/env node
// Startup, server, logs, memory and pull benchmarks: medians of wall time over several runs,
// each next to a baseline measured in the same run (ratios, not absolute numbers), and peak
// RSS from the OS's own accounting (/usr/bin/time -v).
// Usage: npm run bench [-- --runs 15] [-- --skip-engine] [-- --engines docker,podman]
//                      [-- --big-log-mb 1000] [-- --skip-pull] [-- --json] [-- --only status,--help]
// --only: only the rows whose name contains one of the words (`node -e 0`, the baseline, always runs).
// Exit code: 1 when a row could not be measured (FAILED); a row over its target (✘) is reported, not failed.
// Needs a built CLI (npm run build). Engine benchmarks need the lab (scripts/lab.sh): its Docker
// and Podman, its registry on 127.0.0.1:5000 (pull rows) and its busybox base image; they build
// their own images from it and remove them at the end. Run the engine rows under the lab's lock
// when other suites share the engines: flock /tmp/stigmer-engine.lock npm run bench
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = join(root, 'bin', 'run.js')
const args = process.argv.slice(2)
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
const runs = Number(option('--runs')) || 11
const skipEngine = args.includes('--skip-engine')
const skipPull = args.includes('--skip-pull')
const bigLogMb = Number(option('--big-log-mb')) || 1000
const only = option('--only')?.split(',').filter(Boolean)
/** Whether the row of this name is asked for (--only). */
const wanted = (name) => !only || only.some((word) => name.includes(word))
const home = mkdtempSync(join(tmpdir(), 'stigmer-bench-'))
// Registry logins made here go to files of this run only, never to the user's own.
const env = {
  ...process.env,
  DOCKER_CONFIG: join(home, 'docker-config'),
  NO_COLOR: '1',
  REGISTRY_AUTH_FILE: join(home, 'auth.json'),
  STIGMER_HOME: home,
}
// Podman refuses to run anything while REGISTRY_AUTH_FILE names a file that does not exist.
writeFileSync(env.REGISTRY_AUTH_FILE, '{"auths":{}}\n')
const CONTAINER = 'stigmer-agent-runner'
const BASELINE = 'stigmer-bench-baseline'
const RSS_LIMIT_MB = 120
const engineCli = {docker: ['docker', '-H', 'unix:///var/run/docker.sock'], podman: ['podman']}

function time(cmd, argv, options = {}) {
  const started = process.hrtime.bigint()
  const result = spawnSync(cmd, argv, {
    encoding: 'utf8',
    env,
    maxBuffer: 2 ** 30,
    stdio: options.stdio ?? ['ignore', 'ignore', 'pipe'],
  })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (options.check !== false && result.status !== 0 && !(options.okCodes ?? []).includes(result.status)) {
    throw new Error(`${cmd} ${argv.join(' ')} exited ${result.status}: ${result.stderr ?? ''}`)
  }

  return ms
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function measure(cmd, argv, options) {
  time(cmd, argv, {...options, check: false}) // warm the page cache
  return median(Array.from({length: options?.runs ?? runs}, () => time(cmd, argv, options)))
}

/** The engine's own CLI, synchronously; its stdout. */
function engine(name, argv, options = {}) {
  const [bin, ...prefix] = engineCli[name]
  return execFileSync(bin, [...prefix, ...argv], {
    env,
    maxBuffer: 2 ** 30,
    stdio: ['pipe', 'pipe', 'ignore'],
    ...options,
  })
}

const engineArgv = (name, argv) => {
  const [bin, ...prefix] = engineCli[name]
  return [bin, [...prefix, ...argv]]
}

const rows = []
/** One row: the figure, the baseline it is compared with, their ratio, the target ratio and the verdict. */
function row({baseline, baselineName, figure, name, target, unit = 'ms'}) {
  const ratio = figure / baseline
  rows.push({
    what: name,
    figure: `${Math.round(figure)} ${unit}`,
    baseline: baselineName ? `${baselineName} (${Math.round(baseline)} ${unit})` : '',
    ratio: Number(ratio.toFixed(2)),
    target: target ? `<= ${target}` : '',
    verdict: target ? (ratio <= target ? '✔' : '✘') : '',
  })
}

/** Peak RSS in MB of a command and its children, from /usr/bin/time -v (the kernel's accounting). */
function peakRssMb(report) {
  const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)
  if (!match) throw new Error(`no peak RSS in: ${report}`)
  return Number(match[1]) / 1024
}

function rssOf(argv) {
  const out = join(home, 'time.txt')
  time('/usr/bin/time', ['-v', '-o', out, ...argv])
  return peakRssMb(readFileSync(out, 'utf8'))
}

const node0 = measure(process.execPath, ['-e', '0'])
rows.push({what: 'node -e 0', figure: `${Math.round(node0)} ms`, baseline: '', ratio: 1, target: '', verdict: ''})
const vsNode = (name, argv, options = {}) =>
  wanted(name) &&
  row({baseline: node0, baselineName: 'node -e 0', figure: measure(process.execPath, argv, options), name, ...options})
vsNode('stigmer --version', [run, '--version'], {target: 2})
vsNode('stigmer --help', [run, '--help'], {target: 2})
vsNode('stigmer version', [run, 'version'])
vsNode('stigmer doctor --json', [run, 'doctor', '--json'], {okCodes: [1, 10, 11, 12, 13], runs: Math.min(runs, 5)})

const answers = (name) =>
  spawnSync(engineCli[name][0], [...engineCli[name].slice(1), 'version'], {stdio: 'ignore'}).status === 0
const engines = skipEngine
  ? []
  : (option('--engines') ?? 'docker,podman').split(',').filter((name) => name in engineCli && answers(name))
const images = {docker: [], podman: []}
const stigmer = (argv, options) => time(process.execPath, [run, ...argv], options)

/** Builds an image from Dockerfile lines (Podman: in Docker format, so HEALTHCHECK stays). */
function build(name, tag, lines) {
  const ctx = mkdtempSync(join(tmpdir(), 'stigmer-bench-ctx-'))
  writeFileSync(join(ctx, 'Dockerfile'), lines.join('\n'))
  engine(name, ['build', '-q', ...(name === 'podman' ? ['--format', 'docker'] : []), '-t', tag, ctx])
  rmSync(ctx, {force: true, recursive: true})
  images[name].push(tag)
}

const startArgs = (name, image) => [
  'server',
  'start',
  '--runtime',
  name,
  '--image',
  image,
  '--pull',
  'never',
  '--workspace',
  join(home, 'ws'),
]

/**
 * The hand-written baseline of a warm start: `run -d` of the same image with the same mounts,
 * environment, user and network as stigmer's container, then `exec` of the image's health
 * check every 50 ms until it passes.
 */
function baselineStart(name, image) {
  const c = JSON.parse(engine(name, ['inspect', CONTAINER]).toString())[0]
  stigmer(['server', 'stop', '--runtime', name])
  const runArgs = ['run', '-d', '--name', BASELINE]
  for (const bind of c.HostConfig.Binds ?? []) runArgs.push('-v', bind)
  for (const variable of c.Config.Env ?? []) runArgs.push('-e', variable)
  for (const host of c.HostConfig.ExtraHosts ?? []) runArgs.push('--add-host', host)
  if (c.Config.User) runArgs.push('--user', c.Config.User)
  if (c.HostConfig.NetworkMode) runArgs.push('--network', c.HostConfig.NetworkMode)
  runArgs.push(image)
  const [bin, run_] = engineArgv(name, runArgs)
  const [, check] = engineArgv(name, ['exec', BASELINE, 'sh', '-c', 'test -f /tmp/ready'])
  const once = () => {
    spawnSync(engineCli[name][0], [...engineCli[name].slice(1), 'rm', '-f', BASELINE], {stdio: 'ignore'})
    const started = process.hrtime.bigint()
    const started_ = spawnSync(bin, run_, {encoding: 'utf8', env, stdio: ['ignore', 'ignore', 'pipe']})
    if (started_.status !== 0) throw new Error(`${bin} ${run_.join(' ')} failed: ${started_.stderr}`)
    for (;;) {
      const tried = process.hrtime.bigint()
      if (spawnSync(bin, check, {env, stdio: 'ignore'}).status === 0) break
      const wait = 50 - Number(process.hrtime.bigint() - tried) / 1e6
      if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait)
    }

    return Number(process.hrtime.bigint() - started) / 1e6
  }

  const ms = median(Array.from({length: Math.min(runs, 5)}, once))
  spawnSync(engineCli[name][0], [...engineCli[name].slice(1), 'rm', '-f', BASELINE], {stdio: 'ignore'})
  return ms
}

/** Waits until the container has logged WRITTEN, the last line of its big log. */
async function waitForLog(name) {
  for (let i = 0; i < 1200; i++) {
    const [bin, argv] = engineArgv(name, ['logs', '--tail', '1', CONTAINER])
    if (spawnSync(bin, argv, {encoding: 'utf8'}).stdout?.includes(WRITTEN)) return
    await new Promise((r) => setTimeout(r, 500))
  }

  throw new Error('the big log was not written within 10 minutes')
}

const LINE = "'agent-runner log line with some payload to make it about eighty bytes long ....'"
const WRITTEN = 'stigmer-bench-log-written'
/** A container that logs `bytes` of 80-byte lines (after `delay` seconds), then WRITTEN, then idles. */
const logger = (bytes, delay = 0) => [
  'FROM localhost/stigmer-lab/busybox:latest',
  `CMD ["sh","-c","trap 'exit 0' TERM; sleep ${delay}; yes ${LINE} | head -c ${bytes}; echo ${WRITTEN}; while true; do sleep 1; done"]`,
]

async function engineRows(name) {
  const bench = (tag) => `localhost/stigmer-bench/${tag}`
  // Ready 1 s after it starts; the engine's own check would first run after 30 s.
  build(name, bench('ready-1s:1'), [
    'FROM localhost/stigmer-lab/busybox:latest',
    'HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["sh","-c","test -f /tmp/ready"]',
    `CMD ["sh","-c","trap 'exit 0' TERM; sleep 1; touch /tmp/ready; while true; do sleep 1; done"]`,
  ])
  if (wanted(`[${name}] server start`)) {
    const starts = []
    for (let i = 0; i < Math.min(runs, 5); i++) {
      stigmer(['server', 'stop', '--runtime', name])
      starts.push(stigmer(startArgs(name, bench('ready-1s:1'))))
    }

    row({
      baseline: baselineStart(name, bench('ready-1s:1')),
      baselineName: `${name} run -d + exec check every 50 ms`,
      figure: median(starts),
      name: `[${name}] server start (warm, ready after 1 s)`,
      target: 1.2,
    })
  }

  // Status of a container started less than 30 s before (so status runs its health check once).
  const status = [run, 'server', 'status', '--runtime', name]
  const absent = `[${name}] server status (nothing on Temporal's port)`
  if (wanted(absent)) {
    stigmer(['server', 'stop', '--runtime', name])
    stigmer(startArgs(name, bench('ready-1s:1')))
    row({
      baseline: node0,
      baselineName: 'node -e 0',
      figure: measure(process.execPath, status),
      name: absent,
      target: 2,
    })
  }

  const answering = `[${name}] server status (Temporal answering, 1 poller registered)`
  if (wanted(answering)) {
    const temporal = await startTemporal()
    try {
      stigmer(['server', 'stop', '--runtime', name])
      stigmer([...startArgs(name, bench('ready-1s:1')), '--temporal-address', temporal.address])
      const shown = spawnSync(process.execPath, status, {encoding: 'utf8', env}).stdout
      if (!shown.includes('registered: 1 poller(s)')) throw new Error(`status does not show the poller:\n${shown}`)
      row({
        baseline: node0,
        baselineName: 'node -e 0',
        figure: measure(process.execPath, status),
        name: answering,
        target: 2,
      })
    } finally {
      temporal.stop()
    }
  }

  stigmer(['server', 'stop', '--runtime', name])
  if (name === 'docker' && wanted('server logs')) await logRows(name, bench)
  stigmer(['server', 'stop', '--runtime', name])
}

async function logRows(name, bench) {
  // 50 MB of logs: stigmer server logs against docker logs on the same container.
  build(name, bench('logs-50mb:1'), logger(50_000_000))
  stigmer(startArgs(name, bench('logs-50mb:1')))
  await waitForLog(name)
  const logRuns = Math.min(runs, 5)
  const [bin, logsArgv] = engineArgv(name, ['logs', CONTAINER])
  row({
    baseline: measure(bin, logsArgv, {runs: logRuns}),
    baselineName: `${name} logs`,
    figure: measure(process.execPath, [run, 'server', 'logs', '--runtime', name], {runs: logRuns}),
    name: `[${name}] server logs (50 MB)`,
    target: 1.1,
  })
  stigmer(['server', 'stop', '--runtime', name])

  // Memory: a big log read to its end, and a follow while the container writes 100 MB.
  build(name, bench('logs-big:1'), logger(bigLogMb * 1_000_000))
  stigmer(startArgs(name, bench('logs-big:1')))
  await waitForLog(name)
  row({
    baseline: RSS_LIMIT_MB,
    baselineName: 'limit',
    figure: rssOf([process.execPath, run, 'server', 'logs', '--runtime', name]),
    name: `[${name}] server logs (${bigLogMb} MB): peak RSS`,
    target: 1,
    unit: 'MB',
  })
  stigmer(['server', 'stop', '--runtime', name])

  build(name, bench('logs-burst:1'), logger(100_000_000, 2))
  stigmer(startArgs(name, bench('logs-burst:1')))
  row({
    baseline: RSS_LIMIT_MB,
    baselineName: 'limit',
    figure: await followRss(name, 100_000_000),
    name: `[${name}] server logs -f while it writes 100 MB: peak RSS`,
    target: 1,
    unit: 'MB',
  })
}

/** Peak RSS of `server logs -f` until it has printed `bytes`, then Ctrl-C (SIGINT to its process group). */
function followRss(name, bytes) {
  const out = join(home, 'time-follow.txt')
  return new Promise((resolve, reject) => {
    const child = spawn(
      '/usr/bin/time',
      ['-v', '-o', out, process.execPath, run, 'server', 'logs', '-f', '--runtime', name],
      {
        detached: true,
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    )
    let seen = 0
    let stopped = false
    const stop = () => {
      if (!stopped) process.kill(-child.pid, 'SIGINT')
      stopped = true
    }

    const limit = setTimeout(stop, 300_000)
    child.stdout.on('data', (chunk) => {
      seen += chunk.length
      if (seen >= bytes) stop()
    })
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(limit)
      if (seen < bytes) reject(new Error(`server logs -f printed ${seen} of ${bytes} bytes`))
      else resolve(peakRssMb(readFileSync(out, 'utf8')))
    })
  })
}

/** A 400 MB image (four layers of 100 MB that do not compress) in the lab registry. */
function pushBigImage(registry) {
  const ref = `${registry}/stigmer-bench/big:1`
  const ctx = mkdtempSync(join(tmpdir(), 'stigmer-bench-big-'))
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM localhost/stigmer-lab/busybox:latest',
      ...[1, 2, 3, 4].map((i) => `RUN head -c 100000000 /dev/urandom > /blob${i}`),
    ].join('\n'),
  )
  engine('docker', ['build', '-q', '-t', ref, ctx])
  rmSync(ctx, {force: true, recursive: true})
  engine('docker', ['push', ref])
  engine('docker', ['rmi', ref])
  return ref
}

/**
 * The Temporal stand-in (test/helpers/temporal-standin.ts: a grpc-js server built from Temporal's
 * protos) on a free port of 127.0.0.1, and a worker long-polling the agent-runner's default task
 * queue on it (its own HTTP/2 connection and PollActivityTaskQueue calls, as a worker polls).
 */
async function startTemporal() {
  const children = []
  const stop = () => {
    for (const child of children) child.kill('SIGTERM')
  }

  const standin = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'test', 'helpers', 'temporal-standin-main.ts'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ],
    {cwd: root, stdio: ['ignore', 'pipe', 'inherit']},
  )
  children.push(standin)
  try {
    let out = ''
    standin.stdout.on('data', (chunk) => {
      out += chunk
    })
    const until = async (pattern, what) => {
      for (let i = 0; i < 300 && !pattern.test(out); i++) {
        if (standin.exitCode !== null) break
        await new Promise((r) => setTimeout(r, 50))
      }

      const match = pattern.exec(out)
      if (!match) throw new Error(`the Temporal stand-in did not report ${what}: ${out}`)
      return match
    }

    const port = Number((await until(/listening on [^:]+:(\d+)/, 'its port'))[1])
    const worker = spawn(process.execPath, ['--input-type=module', '-e', POLLER, String(port)], {
      cwd: root,
      stdio: 'inherit',
    })
    children.push(worker)
    await until(/activity poller stigmer-bench-worker/, "the worker's poll")
    return {address: `127.0.0.1:${port}`, stop}
  } catch (error) {
    stop()
    throw error
  }
}

/** A worker's long polls on PollActivityTaskQueue (namespace default, queue agent_execution_runner), one after another. */
const POLLER = `
import {connect} from 'node:http2'
import {createRequire} from 'node:module'
const {Writer} = createRequire(process.cwd() + '/')('protobufjs/minimal.js')
const w = Writer.create()
w.uint32(10).string('default')
w.uint32(18).fork().uint32(10).string('agent_execution_runner').uint32(16).int32(1).ldelim()
w.uint32(26).string('stigmer-bench-worker@' + process.pid)
const message = w.finish()
const frame = Buffer.alloc(5 + message.length)
frame.writeUInt32BE(message.length, 1)
frame.set(message, 5)
const session = connect('http://127.0.0.1:' + process.argv[1])
session.on('error', () => process.exit(0))
const poll = () => {
  const stream = session.request({':method': 'POST', ':path': '/temporal.api.workflowservice.v1.WorkflowService/PollActivityTaskQueue', 'content-type': 'application/grpc', te: 'trailers'})
  stream.on('data', () => {})
  stream.on('error', () => {})
  stream.on('close', () => setTimeout(poll, 10))
  stream.end(frame)
}
poll()
process.on('SIGTERM', () => process.exit(0))
`

function pullRows(name, ref) {
  const [bin, pullArgv] = engineArgv(name, ['pull', ...(name === 'podman' ? ['-q'] : []), ref])
  const fresh = () =>
    spawnSync(engineCli[name][0], [...engineCli[name].slice(1), 'rmi', '-f', ref], {env, stdio: 'ignore'})
  const pulls = (cmd, argv) =>
    median(
      Array.from({length: Math.min(runs, 5)}, () => {
        fresh()
        return time(cmd, argv)
      }),
    )
  row({
    baseline: pulls(bin, pullArgv),
    baselineName: `${name} pull`,
    figure: pulls(process.execPath, [run, 'image', 'pull', '--runtime', name, '--image', ref]),
    name: `[${name}] image pull (400 MB, lab registry)`,
    target: 1.1,
  })
  fresh()
}

function labRegistry() {
  const file = process.env.STIGMER_LAB_ENV_FILE || '/var/lib/stigmer-lab/lab.env'
  if (!existsSync(file)) return undefined
  const lab = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => /^(\w+)="?([^"]*)"?$/.exec(l.trim()))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  )
  const password =
    lab.STIGMER_LAB_REGISTRY_PASSWORD_FILE && readFileSync(lab.STIGMER_LAB_REGISTRY_PASSWORD_FILE, 'utf8')
  if (!lab.STIGMER_LAB_REGISTRY || !lab.STIGMER_LAB_REGISTRY_USER || !password) return undefined
  return {address: lab.STIGMER_LAB_REGISTRY, password: password.trim(), user: lab.STIGMER_LAB_REGISTRY_USER}
}

try {
  for (const name of engines) {
    try {
      await engineRows(name)
    } catch (error) {
      // The rows measured so far still print; this engine's failure is a row of its own.
      console.error(error)
      rows.push({what: `[${name}] engine rows`, figure: '', baseline: '', ratio: 0, target: '', verdict: 'FAILED'})
    }
  }

  const registry = skipPull || engines.length === 0 || !wanted('image pull') ? undefined : labRegistry()
  if (registry && engines.includes('docker')) {
    for (const name of engines)
      engine(name, ['login', '-u', registry.user, '--password-stdin', registry.address], {input: registry.password})
    const ref = pushBigImage(registry.address)
    for (const name of engines) pullRows(name, ref)
  }
} finally {
  for (const name of engines) {
    spawnSync(process.execPath, [run, 'server', 'stop', '--runtime', name], {env, stdio: 'ignore'})
    if (images[name].length > 0)
      spawnSync(engineCli[name][0], [...engineCli[name].slice(1), 'rmi', ...images[name]], {stdio: 'ignore'})
  }

  rmSync(home, {force: true, recursive: true})
}

console.log(
  `stigmer benchmarks: medians of ${runs} runs (server start, logs, pulls: ${Math.min(runs, 5)}), ${new Date().toISOString()}, node ${process.version}, engines: ${engines.join(', ') || 'none'}`,
)
console.table(rows)
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 2))
// A benchmark is not a test: a row over its target (✘) is a finding, not a failure. The exit
// code says whether every row could be measured (CI runs the bench once, as a smoke check).
if (rows.some((r) => r.verdict === 'FAILED')) process.exitCode = 1

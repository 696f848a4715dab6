#!/usr/bin/env node
// Startup and server benchmarks: medians of wall time over several runs, each
// next to a baseline measured in the same run (ratios, not absolute numbers).
// Usage: npm run bench [-- --runs 15] [-- --skip-engine]
// Needs a built CLI (npm run build). Engine benchmarks need Docker (the lab:
// scripts/lab.sh) and build their own images from localhost/stigmer-lab/busybox.
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = join(root, 'bin', 'run.js')
const args = process.argv.slice(2)
const runs = Number(args[args.indexOf('--runs') + 1]) || 11
const skipEngine = args.includes('--skip-engine')
const home = mkdtempSync(join(tmpdir(), 'stigmer-bench-'))
const env = {...process.env, STIGMER_HOME: home, NO_COLOR: '1'}
const docker = ['-H', 'unix:///var/run/docker.sock']

function time(cmd, argv, options = {}) {
  const started = process.hrtime.bigint()
  const result = spawnSync(cmd, argv, {env, stdio: options.stdio ?? 'ignore', maxBuffer: 2 ** 30})
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

const rows = []
function row({baselineMs, baselineName, ms, name, target}) {
  const ratio = ms / baselineMs
  rows.push({
    baseline: baselineName,
    medianMs: Math.round(ms),
    ratio: Number(ratio.toFixed(2)),
    target: target ?? '',
    verdict: target ? (ratio <= target ? 'ok' : 'OVER') : '',
    what: name,
  })
}

const node0 = measure(process.execPath, ['-e', '0'])
rows.push({baseline: '', medianMs: Math.round(node0), ratio: 1, target: '', verdict: '', what: 'node -e 0'})
row({
  baselineMs: node0,
  baselineName: 'node -e 0',
  ms: measure(process.execPath, [run, '--version']),
  name: 'stigmer --version',
  target: 2,
})
row({
  baselineMs: node0,
  baselineName: 'node -e 0',
  ms: measure(process.execPath, [run, '--help']),
  name: 'stigmer --help',
  target: 2,
})
row({
  baselineMs: node0,
  baselineName: 'node -e 0',
  ms: measure(process.execPath, [run, 'version']),
  name: 'stigmer version',
})
row({
  baselineMs: node0,
  baselineName: 'node -e 0',
  ms: measure(process.execPath, [run, 'doctor', '--json'], {okCodes: [1, 10, 11, 12], runs: Math.min(runs, 5)}),
  name: 'stigmer doctor --json',
})

if (!skipEngine) {
  const ctx = mkdtempSync(join(tmpdir(), 'stigmer-bench-ctx-'))
  // Ready 1 s after it starts; the engine's own check would first run after 30 s.
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM localhost/stigmer-lab/busybox:latest',
      'HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["sh","-c","test -f /tmp/ready"]',
      `CMD ["sh","-c","trap 'exit 0' TERM; sleep 1; touch /tmp/ready; while true; do sleep 1; done"]`,
    ].join('\n'),
  )
  execFileSync('docker', [...docker, 'build', '-q', '-t', 'localhost/stigmer-bench/ready-1s:1', ctx], {stdio: 'ignore'})
  const startArgs = [
    run,
    'server',
    'start',
    '--runtime',
    'docker',
    '--image',
    'localhost/stigmer-bench/ready-1s:1',
    '--pull',
    'never',
    '--workspace',
    join(home, 'ws'),
  ]
  const starts = []
  for (let i = 0; i < Math.min(runs, 5); i++) {
    time(process.execPath, [run, 'server', 'stop', '--runtime', 'docker'])
    starts.push(time(process.execPath, startArgs))
  }

  const startMs = median(starts)
  rows.push({
    baseline: 'target 2500 ms',
    medianMs: Math.round(startMs),
    ratio: Number((startMs / 2500).toFixed(2)),
    target: 1,
    verdict: startMs <= 2500 ? 'ok' : 'OVER',
    what: 'server start (ready after 1 s, check interval 30 s)',
  })
  row({
    baselineMs: node0,
    baselineName: 'node -e 0',
    ms: measure(process.execPath, [run, 'server', 'status', '--runtime', 'docker']),
    name: 'stigmer server status',
    target: 3,
  })
  time(process.execPath, [run, 'server', 'stop', '--runtime', 'docker'])

  // 50 MB of logs: stigmer server logs against docker logs on the same container.
  const logsCtx = mkdtempSync(join(tmpdir(), 'stigmer-bench-logs-'))
  writeFileSync(
    join(logsCtx, 'Dockerfile'),
    [
      'FROM localhost/stigmer-lab/busybox:latest',
      `CMD ["sh","-c","yes 'agent-runner log line with some payload to make it about eighty bytes long ....' | head -c 50000000; sleep 3600"]`,
    ].join('\n'),
  )
  execFileSync('docker', [...docker, 'build', '-q', '-t', 'localhost/stigmer-bench/logs-50mb:1', logsCtx], {
    stdio: 'ignore',
  })
  const logsStart = spawnSync(
    process.execPath,
    [
      run,
      'server',
      'start',
      '--runtime',
      'docker',
      '--image',
      'localhost/stigmer-bench/logs-50mb:1',
      '--pull',
      'never',
      '--workspace',
      join(home, 'ws'),
    ],
    {env, stdio: 'ignore'},
  )
  if (logsStart.status !== 0) throw new Error('could not start the 50 MB logs container')
  // wait until all 50 MB are written
  for (let i = 0; i < 100; i++) {
    const size = spawnSync('docker', [...docker, 'logs', 'stigmer-agent-runner'], {maxBuffer: 2 ** 30}).stdout.length
    if (size >= 50_000_000) break
    await new Promise((r) => setTimeout(r, 300))
  }

  const logRuns = Math.min(runs, 5)
  const dockerLogs = measure('docker', [...docker, 'logs', 'stigmer-agent-runner'], {runs: logRuns})
  row({
    baselineMs: dockerLogs,
    baselineName: 'docker logs',
    ms: measure(process.execPath, [run, 'server', 'logs', '--runtime', 'docker'], {runs: logRuns}),
    name: 'stigmer server logs (50 MB)',
    target: 1.5,
  })
  time(process.execPath, [run, 'server', 'stop', '--runtime', 'docker'])
  execFileSync(
    'docker',
    [...docker, 'rmi', 'localhost/stigmer-bench/ready-1s:1', 'localhost/stigmer-bench/logs-50mb:1'],
    {stdio: 'ignore'},
  )
  rmSync(ctx, {force: true, recursive: true})
  rmSync(logsCtx, {force: true, recursive: true})
}

rmSync(home, {force: true, recursive: true})
console.log(
  `stigmer benchmarks: medians of ${runs} runs (server start: 5; logs: 5), ${new Date().toISOString()}, node ${process.version}`,
)
console.table(rows)
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 2))
if (rows.some((r) => r.verdict === 'OVER')) process.exitCode = 1

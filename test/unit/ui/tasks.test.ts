import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const FIXTURE = join(ROOT, 'test', 'fixtures', 'task-ui', 'steps.ts')

/** Colour (SGR) sequences, and the cursor movement a live list redraws with. */
// eslint-disable-next-line no-control-regex
const SGR = /\u001B\[[\d;]*m/
// eslint-disable-next-line no-control-regex
const CURSOR_UP = /\u001B\[1A/

const hasScript = spawnSync('script', ['--version']).status === 0

function env(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {...process.env, TERM: 'xterm-256color'}
  delete base.NO_COLOR
  delete base.FORCE_COLOR
  delete base.CI
  for (const [k, v] of Object.entries(extra))
    if (v === undefined) delete base[k]
    else base[k] = v
  return base
}

/**
 * Runs the fixture with stderr on a real pseudo-terminal (util-linux `script`,
 * 100x30) and stdout in a file, as `stigmer server start > result.txt` in a
 * terminal would. Returns what the terminal got and what stdout got.
 */
function inTerminal(args: string[], extra: Record<string, string | undefined> = {}): {stdout: string; tty: string} {
  const dir = mkdtempSync(join(tmpdir(), 'stigmer-tty-'))
  try {
    const out = join(dir, 'stdout')
    const log = join(dir, 'tty')
    const command = `stty cols 100 rows 30; exec node --import tsx ${FIXTURE} ${args.join(' ')} > ${out}`
    // The program's exit code does not matter here (the "fail" run exits 30).
    spawnSync('script', ['-qfc', command, log], {cwd: ROOT, env: env(extra), stdio: 'ignore', timeout: 60_000})
    // script's own first and last lines ("Script started/done ...") are not the program's.
    const tty = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => !/^Script (started|done) on /.test(l))
      .join('\n')
    return {stdout: readFileSync(out, 'utf8'), tty}
  } finally {
    rmSync(dir, {force: true, recursive: true})
  }
}

/** Runs the fixture with stdout and stderr as pipes. */
function inPipes(args: string[], extra: Record<string, string | undefined> = {}): {stderr: string; stdout: string} {
  const result = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: env(extra),
    timeout: 60_000,
  })
  return {stderr: result.stderr, stdout: result.stdout}
}

describe('task list (listr2, on stderr)', function () {
  this.timeout(120_000)

  before(function () {
    if (!hasScript) {
      if (process.env.CI) throw new Error('util-linux `script` is needed for the terminal tests')
      this.skip()
    }
  })

  it('a terminal: the live list (spinner, progress line, the notice above it) on stderr, only the result on stdout', () => {
    const {stdout, tty} = inTerminal(['ok'])
    expect(stdout).to.equal('Agent-runner is ready.\n')
    expect(tty, 'redrawn in place').to.match(CURSOR_UP)
    expect(tty, 'a spinner frame').to.match(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/)
    expect(tty, 'the pull line under its task').to.include('› [#####] 100%')
    expect(tty).to.match(/✔\S* Engine: Docker \S*\(Docker 20\.10\.24\)\S* \S*\[\d+\.\ds\]/)
    expect(tty).to.match(/✔\S* Image example\/agent-runner:v1 \S*\(pulled\)\S* \S*\[0\.[5-9]s\]/)
    const notice = tty.indexOf('One-time setup: downloading')
    expect(notice, 'the one-time message').to.be.greaterThan(-1)
    expect(notice, 'printed before the progress, not held until the task ends').to.be.lessThan(
      tty.indexOf('[#----] 20%'),
    )
    expect(tty).to.include('Temporal does not answer at localhost:7233')
    expect(tty).to.match(/✔\S* Wait until ready/)
    expect(tty, 'colour on a terminal').to.match(SGR)
    expect(tty.trimEnd().endsWith('\u001B[?25h'), 'the cursor is shown again').to.equal(true)
  })

  it('a failure: the step is drawn failed, then the error is printed below it, not erased', () => {
    const {stdout, tty} = inTerminal(['fail'])
    expect(stdout).to.equal('')
    const failed = tty.search(/✖\S* Wait until ready \S*\(unhealthy\)/)
    expect(failed, tty).to.be.greaterThan(-1)
    const error = tty.indexOf('Error: the container is unhealthy')
    expect(error).to.be.greaterThan(failed)
    // Nothing is drawn over the error afterwards.
    expect(tty.slice(error)).to.not.match(CURSOR_UP)
  })

  it('a pipe: plain lines, no escapes, no progress spam; the result alone on stdout', () => {
    const {stderr, stdout} = inPipes(['ok'])
    expect(stdout).to.equal('Agent-runner is ready.\n')
    expect(stderr).to.not.include('\u001B')
    expect(stderr.split('\n')).to.include.members([
      'One-time setup: downloading the agent-runner image example/agent-runner:v1 (12 MB).',
      'warning: Temporal does not answer at localhost:7233',
    ])
    expect(stderr).to.match(/^✔ Engine: Docker \(Docker 20\.10\.24\) \[\d+\.\ds\]$/m)
    expect(stderr).to.match(/^✔ Image example\/agent-runner:v1 \(pulled\) \[0\.\ds\]$/m)
    // Progress lines are throttled to one every 5 s: a 0.6 s pull prints none.
    expect(stderr).to.not.include('%')
  })

  it('--json: nothing but the JSON, on a terminal and in a pipe', () => {
    expect(inPipes(['ok', '--json'])).to.deep.equal({stderr: '', stdout: '{"status":"started"}\n'})
    const {stdout, tty} = inTerminal(['ok', '--json'])
    expect(stdout).to.equal('{"status":"started"}\n')
    expect(tty.trim()).to.equal('')
  })

  describe('colour follows the one rule (src/lib/terminal.ts)', () => {
    it('NO_COLOR on a terminal: live, without colour', () => {
      const {tty} = inTerminal(['ok'], {NO_COLOR: '1'})
      expect(tty).to.match(CURSOR_UP)
      expect(tty).to.not.match(SGR)
    })

    it('TERM=dumb on a terminal: plain lines, no cursor movement, no colour', () => {
      const {tty} = inTerminal(['ok'], {TERM: 'dumb'})
      expect(tty).to.not.match(CURSOR_UP)
      expect(tty).to.not.match(SGR)
      expect(tty).to.include('✔ Engine: Docker (Docker 20.10.24)')
    })

    it('FORCE_COLOR in a pipe: plain lines in colour; FORCE_COLOR beats NO_COLOR', () => {
      for (const extra of [{FORCE_COLOR: '1'}, {FORCE_COLOR: '1', NO_COLOR: '1'}]) {
        const {stderr} = inPipes(['ok'], extra)
        expect(stderr, JSON.stringify(extra)).to.match(SGR)
        expect(stderr).to.not.match(CURSOR_UP)
      }
    })
  })
})

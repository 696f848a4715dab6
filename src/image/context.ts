import ignore from '@balena/dockerignore'
import {constants, existsSync, readFileSync} from 'node:fs'
import {chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readlink, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, dirname, join, relative, resolve, sep} from 'node:path'

import {InterruptedError, usageError} from '../lib/errors.js'
import {removeOnExit} from '../lib/exit-cleanup.js'

/**
 * The build context `image build` sends: a copy of the source folder with the
 * ignore rules applied, plus the Dockerfile. Staging it ourselves (rather than
 * letting the engine read the folder) is what makes the CLI's own
 * Dockerfile.dockerignore apply to a source folder it does not live in, the
 * mistake the original CLI shipped. Matching is @balena/dockerignore, a port
 * of Docker's own rules: `*` does not cross `/`, `tests` matches only at the
 * top, `**` crosses folders, `!` re-includes, and an ignored folder can still
 * have files re-included below it.
 */

/** Name of the staged Dockerfile inside the context; it and the staged .dockerignore never reach the image. */
export const STAGED_DOCKERFILE = '.stigmer.Dockerfile'

export interface IgnoreRules {
  /** Patterns in the order they apply (later ones win), comments and blank lines dropped. */
  readonly patterns: readonly string[]
  /** Where each group came from, for messages and --json. */
  readonly sources: readonly string[]
}

/** Docker's .dockerignore syntax: one pattern a line, `#` comments, surrounding blanks trimmed, a leading `/` means the top. */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = []
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#')) continue
    out.push(line)
  }

  return out
}

/**
 * The ignore files that apply, in order: the Dockerfile's own
 * `<Dockerfile>.dockerignore` (ours is docker/Dockerfile.dockerignore), then
 * the source's `.dockerignore`, whose rules come last so its `!` lines can
 * re-include what the first excluded. (Docker's BuildKit uses only the first
 * when both exist; we apply both, so a project's own exclusions always hold.)
 */
export function ignoreFilesFor(sourceDir: string, dockerfile: string): string[] {
  const files = [`${dockerfile}.dockerignore`, join(sourceDir, '.dockerignore')]
  return [...new Set(files.map((f) => resolve(f)))].filter((f) => existsSync(f))
}

export function loadIgnoreRules(files: readonly string[]): IgnoreRules {
  const patterns: string[] = []
  for (const file of files) patterns.push(...parseIgnoreFile(readFileSync(file, 'utf8')))
  return {patterns, sources: [...files]}
}

export interface IgnoreMatcher {
  /** True when a path (relative to the source, `/`-separated) stays out of the context. */
  ignores(path: string): boolean
  /** True when a whole ignored folder can be skipped: no `!` rule could re-include anything below it. */
  canSkipDir(path: string): boolean
}

export function createMatcher(patterns: readonly string[]): IgnoreMatcher {
  // A CommonJS module: under nodenext its typed default export is the namespace; .default is the factory (it sets factory.default = factory).
  const ig = ignore.default().add([...patterns])
  // Exceptions as Docker cleans them: no "!", no leading "/", no trailing "/".
  const exceptions = patterns
    .filter((p) => p.startsWith('!'))
    .map((p) => p.slice(1).trim().replace(/^\/+/, '').replace(/\/+$/, ''))
  return {
    // Docker's rule (pkg/archive TarWithOptions): an ignored folder is skipped unless an exception pattern starts with it.
    canSkipDir: (dir) => !exceptions.some((e) => `${e}/`.startsWith(`${dir}/`)),
    ignores: (path) => path !== '' && ig.ignores(path),
  }
}

/** Pure: which of these paths (relative, `/`-separated) go into the context. */
export function selectPaths(paths: readonly string[], patterns: readonly string[]): string[] {
  const matcher = createMatcher(patterns)
  return paths.filter((p) => !matcher.ignores(p))
}

export interface StagedContext {
  /** The staged context folder; the engine gets exactly this. */
  readonly dir: string
  /** The Dockerfile's path relative to dir. */
  readonly dockerfile: string
  /** Files (and symlinks) copied. */
  readonly files: number
  readonly bytes: number
  /** Files and folders left out by the ignore rules (a folder counts once). */
  readonly ignored: number
  readonly ignoreFiles: readonly string[]
  /** Removes the staged folder. Safe to call more than once. */
  cleanup(): Promise<void>
  /** Keeps the staged folder (image build --stage-to): no cleanup, not even at exit. */
  keep(): void
}

export interface StageOptions {
  readonly sourceDir: string
  /** The Dockerfile to build, anywhere on disk. */
  readonly dockerfile: string
  /** Where the source lands in the context, `/`-separated ('.' or absent: at the top). */
  readonly appDir?: string
  /**
   * More folders to stage (path dependencies outside the source), each at its
   * place in the context; each gets the Dockerfile's ignore rules and its own
   * .dockerignore, like the source.
   */
  readonly extraDirs?: ReadonlyArray<{readonly dir: string; readonly at: string}>
  /** Files put under SUPPORT_DIR in the context (the image's install and health-check scripts). */
  readonly supportFiles?: readonly string[]
  /** Overrides ignoreFilesFor() (tests). */
  readonly ignoreFiles?: readonly string[]
  readonly signal?: AbortSignal
  /** Where to make the temporary folder (default: the OS temp dir). */
  readonly tempRoot?: string
  /** Stage into this folder instead of a temporary one; it must not exist yet. */
  readonly into?: string
}

/** The folder in the context that holds SUPPORT files (docker/install.sh, docker/healthcheck.py); never in the image as such. */
export const SUPPORT_DIR = '.stigmer-image'

/**
 * Copies the source into a fresh temporary folder, leaving out what the
 * ignore rules exclude, and puts the Dockerfile in as STAGED_DOCKERFILE with a
 * .dockerignore that keeps it (and itself) out of `COPY . .`. The folder is
 * removed on error, on abort, and, if the process exits before cleanup() runs
 * (a second Ctrl-C), by the exit-cleanup registry (src/lib/exit-cleanup.ts).
 */
export async function stageBuildContext(options: StageOptions): Promise<StagedContext> {
  const sourceDir = resolve(options.sourceDir)
  const dockerfile = resolve(options.dockerfile)
  const ignoreFiles = options.ignoreFiles ?? ignoreFilesFor(sourceDir, dockerfile)
  const rules = loadIgnoreRules(ignoreFiles)
  const matcher = createMatcher(rules.patterns)
  const dir = options.into
    ? await freshFolder(options.into)
    : await mkdtemp(join(options.tempRoot ?? tmpdir(), 'stigmer-build-'))
  const registered = removeOnExit(dir)
  const cleanup = async () => registered.release()

  const stats = {bytes: 0, files: 0, ignored: 0}
  const roots = [
    {at: options.appDir ?? '.', dir: sourceDir, ignoreFiles},
    ...(options.extraDirs ?? []).map((extra) => ({
      at: extra.at,
      dir: resolve(extra.dir),
      ignoreFiles: options.ignoreFiles ?? ignoreFilesFor(extra.dir, dockerfile),
    })),
  ]
  try {
    for (const root of roots) {
      if (dir.startsWith(root.dir + sep))
        throw new Error(`The temporary folder ${dir} is inside ${root.dir}; set TMPDIR elsewhere.`)
      const target = join(dir, ...root.at.split('/'))
      await mkdir(target, {recursive: true})
      const rootMatcher = root.dir === sourceDir ? matcher : createMatcher(loadIgnoreRules(root.ignoreFiles).patterns)
      await copyTree({matcher: rootMatcher, root: root.dir, signal: options.signal, stats, target}, '', root.at === '.')
    }

    if (options.supportFiles && options.supportFiles.length > 0) {
      await mkdir(join(dir, SUPPORT_DIR))
      for (const file of options.supportFiles) await copyFile(file, join(dir, SUPPORT_DIR, basename(file)))
    }

    await writeFile(join(dir, STAGED_DOCKERFILE), readFileSync(dockerfile))
    // The staged context is already filtered; this keeps only our own two files out of COPY (Docker and Buildah both honour it).
    await writeFile(join(dir, '.dockerignore'), `${STAGED_DOCKERFILE}\n.dockerignore\n`)
  } catch (error) {
    await cleanup()
    throw error
  }

  return {...stats, cleanup, dir, dockerfile: STAGED_DOCKERFILE, ignoreFiles, keep: () => registered.keep()}
}

interface CopyJob {
  readonly root: string
  readonly target: string
  readonly matcher: IgnoreMatcher
  readonly stats: {bytes: number; files: number; ignored: number}
  readonly signal: AbortSignal | undefined
}

async function copyTree(job: CopyJob, rel: string, atTop: boolean): Promise<void> {
  const {matcher, root, signal, stats, target} = job
  const entries = await readdir(rel === '' ? root : join(root, rel), {withFileTypes: true})
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new InterruptedError()
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`
    const from = join(root, path)
    const to = join(target, path)
    const ignored = matcher.ignores(path)
    if (entry.isDirectory()) {
      if (ignored && matcher.canSkipDir(path)) {
        stats.ignored++
        continue
      }

      const info = await lstat(from)
      await mkdir(to)
      await copyTree(job, path, atTop)
      // after its contents: a read-only folder must still be filled first
      await chmod(to, info.mode % 0o1_0000)
      continue
    }

    if (ignored) {
      stats.ignored++
      continue
    }

    // Our staged .dockerignore replaces the source's (already applied); a top-level STAGED_DOCKERFILE would clash.
    if (rel === '' && atTop && ['.dockerignore', STAGED_DOCKERFILE, SUPPORT_DIR].includes(basename(path))) continue
    if (rel === '' && !atTop && basename(path) === '.dockerignore') continue
    if (entry.isSymbolicLink()) {
      await symlink(await readlink(from), to)
      stats.files++
    } else if (entry.isFile()) {
      await copyFile(from, to, constants.COPYFILE_FICLONE)
      stats.files++
      stats.bytes += (await lstat(to)).size
    }
    // sockets, fifos and devices have no place in an image context: skipped, as docker build does
  }
}

/** Creates a folder that must not exist yet (its parents may). */
async function freshFolder(path: string): Promise<string> {
  const dir = resolve(path)
  await mkdir(dirname(dir), {recursive: true})
  try {
    await mkdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw usageError(`${path} already exists: stage the build context into a new folder.`)
    throw error
  }

  return dir
}

/** For messages: the path of a file relative to where the user is, when that is shorter. */
export function displayPath(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, path)
  return rel === '' ? '.' : rel.startsWith('..') || rel.length > path.length ? path : rel
}

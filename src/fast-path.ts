import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {format, parseArgs, type ParseArgsConfig} from 'node:util'

/**
 * bin/run.js's fast path for `stigmer server status`: the same command without loading
 * oclif (whose modules and configuration cost about as much as Node's own start-up, more
 * than the command's work). It is taken only when nothing could differ from oclif's run:
 *
 * - the command's flags are read from oclif's manifest of the command class
 *   (oclif.manifest.json, written by `oclif manifest` at build time from the class's
 *   static `flags`): they are defined once, in the class. Anything this reader does not
 *   handle exactly as oclif would (an unknown flag, a missing value, `--help`, a flag with
 *   options, env, relationships or `--no-`, an argument) goes to oclif, which parses it and
 *   reports;
 * - the manifest is this version's, no user plugins are installed (they may add runtimes
 *   through a hook, or commands), no DEBUG output is asked for, no oclif theme file could
 *   colour the JSON, and STIGMER_NO_FAST_PATH is not set.
 *
 * Output, redaction, --json, errors and exit codes go through the same functions as the
 * command's (src/base-command.ts); test/smoke/fast-path.test.ts compares the two paths.
 */

/** A flag as oclif's manifest records it (the fields this reader looks at). */
export interface ManifestFlag {
  readonly name: string
  readonly type: 'boolean' | 'option'
  readonly char?: string
  readonly allowNo?: boolean
  readonly multiple?: boolean
  readonly options?: readonly string[]
  readonly default?: unknown
  readonly env?: string
  readonly required?: boolean
  readonly dependsOn?: readonly string[]
  readonly exclusive?: readonly string[]
  readonly exactlyOne?: readonly string[]
  readonly relationships?: readonly unknown[]
  readonly aliases?: readonly string[]
  readonly charAliases?: readonly string[]
  readonly deprecated?: unknown
  readonly deprecateAliases?: boolean
}

export type ParsedFlags = Record<string, boolean | string | string[] | undefined>

/** Manifest fields that, when set, mean oclif does more with the flag than parseArgs would. */
const OCLIF_ONLY = ['allowNo', 'multiple', 'options', 'env', 'required', 'deprecated'] as const
/** Manifest lists that, when not empty, mean the same. */
const OCLIF_ONLY_LISTS = ['dependsOn', 'exclusive', 'exactlyOne', 'relationships', 'aliases', 'charAliases'] as const

/** Whether parseArgs reads this flag exactly as oclif would: a plain boolean or string, under its own name. */
function isPlainFlag(name: string, flag: ManifestFlag): boolean {
  return (
    flag.name === name &&
    (flag.type === 'boolean' || flag.type === 'option') &&
    flag.default === undefined &&
    (flag.char === undefined || /^[a-zA-Z]$/.test(flag.char)) &&
    !OCLIF_ONLY.some((key) => flag[key]) &&
    !OCLIF_ONLY_LISTS.some((key) => flag[key]?.length)
  )
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>

/** parseArgs's options for the declared flags; undefined when one of them is not plain. */
function parseOptionsOf(flags: Readonly<Record<string, ManifestFlag>>): ParseOptions | undefined {
  const options: ParseOptions = {}
  for (const [name, flag] of Object.entries(flags)) {
    if (!isPlainFlag(name, flag)) return undefined
    options[name] = {type: flag.type === 'boolean' ? 'boolean' : 'string', ...(flag.char ? {short: flag.char} : {})}
  }

  return options
}

/** argv parsed strictly with those options; undefined for anything oclif would read differently or report. */
function parseStrictly(argv: readonly string[], options: ParseOptions): ParsedFlags | undefined {
  try {
    const {tokens, values} = parseArgs({allowPositionals: false, args: [...argv], options, strict: true, tokens: true})
    // A flag given twice: oclif's prerun hooks and its parser do not agree on which one counts; let oclif run it.
    const names = tokens.filter((token) => token.kind === 'option').map((token) => token.name)
    if (new Set(names).size !== names.length) return undefined
    for (const [name, value] of Object.entries(values)) {
      // oclif takes `--runtime --json` as a missing value; parseArgs would take "--json": leave it to oclif.
      if (Array.isArray(value) || (typeof value === 'string' && value.startsWith('-'))) return undefined
      if (!(name in options)) return undefined
    }

    return values as ParsedFlags
  } catch {
    return undefined
  }
}

/**
 * Parses argv with the flags a command declares, as its manifest records them; undefined
 * when argv or a flag needs more than this reads (oclif then parses it and reports).
 */
export function parseDeclaredFlags(
  flags: Readonly<Record<string, ManifestFlag>>,
  argv: readonly string[],
): ParsedFlags | undefined {
  const options = parseOptionsOf(flags)
  if (!options) return undefined
  // Help is oclif's to render.
  if (argv.some((arg) => arg === '--help' || arg === '-h' || arg === '--')) return undefined
  return parseStrictly(argv, options)
}

interface Manifest {
  readonly version?: string
  readonly commands?: Record<
    string,
    {enableJsonFlag?: boolean; flags?: Record<string, ManifestFlag>; useRememberedRuntime?: boolean}
  >
}

/** Where oclif keeps the data dir (user plugins) and the config dir (theme.json) of this CLI. */
function oclifDir(kind: 'config' | 'data', env: NodeJS.ProcessEnv): string {
  const scoped = env[`STIGMER_${kind.toUpperCase()}_DIR`]
  if (scoped) return scoped
  const xdg = kind === 'data' ? env.XDG_DATA_HOME : env.XDG_CONFIG_HOME
  return join(xdg || join(homedir(), kind === 'data' ? '.local/share' : '.config'), 'stigmer')
}

/**
 * Whether plugins are installed or linked: the data dir's package.json lists them in
 * oclif.plugins (what oclif loads). The file itself stays after the last plugin is
 * uninstalled, with an empty list, so its existence says nothing.
 */
export function hasUserPlugins(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = join(oclifDir('data', env), 'package.json')
  if (!existsSync(file)) return false
  try {
    const plugins = JSON.parse(readFileSync(file, 'utf8'))?.oclif?.plugins
    return plugins !== undefined && (!Array.isArray(plugins) || plugins.length > 0)
  } catch {
    return true // unreadable: let oclif decide (and report it)
  }
}

/**
 * Runs `server status` without oclif when argv and the environment allow (see above);
 * false when oclif must run it. `root` is the CLI's folder, `version` its package.json's.
 */
export async function runFastPath(argv: readonly string[], root: string, version: string): Promise<boolean> {
  const env = process.env
  if (argv[0] !== 'server' || argv[1] !== 'status') return false
  if (env.STIGMER_NO_FAST_PATH || env.DEBUG || process.platform === 'win32') return false
  if (existsSync(join(oclifDir('config', env), 'theme.json')) || hasUserPlugins(env)) return false
  const file = join(root, 'oclif.manifest.json')
  if (!existsSync(file)) return false
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest
  const command = manifest.commands?.['server:status']
  if (manifest.version !== version || !command?.flags) return false
  const flags = parseDeclaredFlags(command.flags, argv.slice(2))
  if (!flags) return false

  const [
    {addSecretsFromEnv, redact, redactJson},
    {forTerminal},
    {toStigmerError, writeError},
    {getRuntime},
    {rememberedEngine},
    status,
  ] = await Promise.all([
    import('./lib/redact.js'),
    import('./lib/terminal.js'),
    import('./ui/render-error.js'),
    import('./engine/choose.js'),
    import('./server/state.js'),
    import('./server/status.js'),
  ])
  // What oclif's Command does around a run (StigmerCommand: init, log, toSuccessJson, catch).
  // An EPIPE on stdout (`| head`) is not an error, as in oclif's Command.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
  const json = (command.enableJsonFlag && flags.json === true) || env.STIGMER_CONTENT_TYPE?.toLowerCase() === 'json'
  addSecretsFromEnv(env)
  try {
    const result = await status.serverStatusCommand({
      cliVersion: version,
      logForeign(line) {
        if (!json) console.log(format(redact(forTerminal(line, process.stdout))))
      },
      runtime: () =>
        getRuntime({
          flag: flags.runtime as string | undefined,
          remembered: command.useRememberedRuntime === true ? rememberedEngine : undefined,
        }),
    })
    if (json) console.log(JSON.stringify(redactJson(result), undefined, 2))
  } catch (error) {
    const failure = toStigmerError(error)
    writeError(failure, json)
    process.exitCode = failure.exit
  }

  return true
}

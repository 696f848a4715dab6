/**
 * The stigmer plugin API, taken from the stigmer CLI that is running this plugin.
 *
 * A plugin installed with `stigmer plugins install` lives in the user's data dir
 * (~/.local/share/stigmer/node_modules/...), where `import '@stigmer/cli/plugin-api'`
 * finds nothing: the CLI is not a dependency of the plugin (@stigmer/cli is an optional
 * peer, so npm does not install a second copy). So this module asks the running CLI where
 * it is: stigmer's init hook records oclif's own `config.root` under the global
 * `Symbol.for('@stigmer/cli')` before oclif imports any plugin command, and that folder's
 * package.json "exports" say where ./plugin-api is. Using the host's own copy also means
 * one engine detection per process, one set of error classes and one exit-code table.
 *
 * A CLI older than that hook (0.1.0) records nothing: then the host is the package named
 * "@stigmer/cli" above the entry point Node was started with (process.argv[1], which a
 * tarball or Homebrew install gives without its `.js`). Outside a stigmer process (the
 * plugin's own tests, `oclif manifest`) it falls back to ordinary module resolution of
 * '@stigmer/cli/plugin-api'.
 */
import type * as PluginApi from '@stigmer/cli/plugin-api'

import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {dirname, join, parse} from 'node:path'
import {pathToFileURL} from 'node:url'

const HOST_PACKAGE = '@stigmer/cli'
/** Where the running CLI records itself (src/lib/host.ts in the CLI). */
const HOST_GLOBAL = Symbol.for('@stigmer/cli')

function isHostPackage(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {name?: string}).name === HOST_PACKAGE
  } catch {
    return false
  }
}

/** The root the running CLI recorded (oclif's config.root), if it is a @stigmer/cli package. */
export function recordedRoot(
  global: Record<symbol, unknown> = globalThis as Record<symbol, unknown>,
): string | undefined {
  const root = (global[HOST_GLOBAL] as undefined | {root?: unknown})?.root
  return typeof root === 'string' && isHostPackage(root) ? root : undefined
}

/**
 * The root folder of the @stigmer/cli package that contains `entry`, if any. `entry` may
 * name its file without the extension, as Node accepts (`node bin/run` runs bin/run.js).
 */
export function hostRoot(entry: string | undefined): string | undefined {
  if (!entry) return undefined
  let dir: string | undefined
  for (const candidate of [entry, `${entry}.js`, `${entry}.mjs`]) {
    try {
      dir = dirname(realpathSync(candidate))
      break
    } catch {
      // no such file: try the next name
    }
  }

  if (!dir) return undefined
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && isHostPackage(dir)) return dir
    if (dir === parse(dir).root) return undefined
    dir = dirname(dir)
  }
}

/** The file a package's "exports" map gives for a subpath (string or {import|default} targets). */
export function exportTarget(root: string, subpath: string): string | undefined {
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {exports?: Record<string, unknown>}
  let target = pjson.exports?.[subpath]
  if (target && typeof target === 'object') {
    const conditions = target as Record<string, unknown>
    target = conditions.import ?? conditions.default
  }

  return typeof target === 'string' ? join(root, target) : undefined
}

async function loadPluginApi(): Promise<typeof PluginApi> {
  const root = recordedRoot() ?? hostRoot(process.argv[1])
  if (root) {
    const file = exportTarget(root, './plugin-api')
    if (!file || !existsSync(file)) {
      throw new Error(
        `The stigmer CLI at ${root} has no plugin API (./plugin-api): this plugin needs stigmer 0.1.0 or later.`,
      )
    }

    return (await import(pathToFileURL(file).href)) as typeof PluginApi
  }

  // Resolved at run time only, when @stigmer/cli is installed beside the plugin.
  // eslint-disable-next-line import/no-unresolved
  return import('@stigmer/cli/plugin-api')
}

export const api: typeof PluginApi = await loadPluginApi()

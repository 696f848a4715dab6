/**
 * The stigmer plugin API, taken from the stigmer CLI that is running this plugin.
 *
 * A plugin installed with `stigmer plugins install` lives in the user's data dir
 * (~/.local/share/stigmer/node_modules/...), where `import '@stigmer/cli/plugin-api'`
 * finds nothing: the CLI is not a dependency of the plugin (@stigmer/cli is an optional
 * peer, so npm does not install a second copy). So this module finds the host CLI from
 * the running program: the entry point Node was started with (process.argv[1]: bin/run.js
 * of an npm install, bin/run of a tarball or Homebrew install, bin/dev.js) belongs to the
 * package named @stigmer/cli, whose "exports" say where ./plugin-api is. Using the host's
 * own copy also means one engine detection per process, one set of error classes and one
 * exit-code table.
 *
 * When the plugin runs outside a stigmer process (its own tests, `oclif manifest`), it
 * falls back to ordinary module resolution of '@stigmer/cli/plugin-api'.
 */
import type * as PluginApi from '@stigmer/cli/plugin-api'

import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {dirname, join, parse} from 'node:path'
import {pathToFileURL} from 'node:url'

const HOST_PACKAGE = '@stigmer/cli'

/** The root folder of the @stigmer/cli package that contains `entry`, if any. */
export function hostRoot(entry: string | undefined): string | undefined {
  if (!entry) return undefined
  let dir: string
  try {
    dir = dirname(realpathSync(entry))
  } catch {
    return undefined
  }

  for (;;) {
    const pjson = join(dir, 'package.json')
    if (existsSync(pjson)) {
      try {
        if ((JSON.parse(readFileSync(pjson, 'utf8')) as {name?: string}).name === HOST_PACKAGE) return dir
      } catch {
        // not a readable package.json: keep walking up
      }
    }

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
  const root = hostRoot(process.argv[1])
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

import {StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'

/**
 * What `stigmer plugins install ARG` hands to npm, decided before npm is asked anything.
 *
 * oclif's own install tries `@<scope>/<prefix>-<name>` for a bare name and, when that is not
 * on the registry, installs the bare name itself: `plugins install temporal` became the
 * unrelated npm package `temporal`. Here a bare name means the first-party plugin and
 * nothing else; any other package is installed by its full scoped name, a file: tarball,
 * a git URL or a GitHub owner/repo, all of which the user spelled out.
 */
export type PluginSpec =
  | {
      readonly kind: 'first-party'
      readonly input: string
      readonly name: string
      /** the short name without its tag: temporal */
      readonly short: string
      readonly tag: string | undefined
    }
  | {readonly kind: 'scoped'; readonly input: string; readonly name: string; readonly tag: string | undefined}
  | {readonly kind: 'url'; readonly input: string}

export interface PluginNaming {
  /** oclif.scope of the CLI's package.json: stigmer */
  readonly scope?: string | undefined
  /** oclif.pluginPrefix: plugin */
  readonly pluginPrefix?: string | undefined
}

/** npm's rules for the name part of a new package (lower case, url-safe, at most 214 characters). */
const NAME = /^[a-z0-9][a-z0-9._~-]*$/

function splitTag(text: string): [string, string | undefined] {
  const at = text.indexOf('@', 1)
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1) || undefined]
}

export function parsePluginSpec(input: string, naming: PluginNaming): PluginSpec {
  const text = input.trim()
  if (text === '') throw usage(input, 'an empty plugin name')
  // file:, https:, git+ssh:, github: ... and git URLs: spelled out by the user, passed on as is
  if (text.includes(':') || text.endsWith('.git')) return {input: text, kind: 'url'}
  if (text.startsWith('@')) {
    const [name, tag] = splitTag(text)
    const [scope, pkg, ...rest] = name.slice(1).split('/')
    if (!scope || !pkg || rest.length > 0 || !NAME.test(scope) || !NAME.test(pkg) || name.length > 214) {
      throw usage(input, `"${name}" is not a scoped npm package name (@scope/name)`)
    }

    return {input: text, kind: 'scoped', name, tag}
  }

  // owner/repo on GitHub (oclif's own syntax)
  if (text.includes('/')) return {input: text, kind: 'url'}
  const [short, tag] = splitTag(text)
  const prefix = `${naming.pluginPrefix ?? 'plugin'}-`
  const base = short.startsWith(prefix) ? short.slice(prefix.length) : short
  if (!NAME.test(base)) throw usage(input, `"${short}" is not a plugin name (lower-case letters, digits, . _ ~ -)`)
  if (!naming.scope) throw usage(input, 'this CLI has no plugin scope, so a plugin needs its full npm name')
  return {input: text, kind: 'first-party', name: `@${naming.scope}/${prefix}${base}`, short: base, tag}
}

/** The argument oclif's install receives: always a full name or a URL, never a bare name. */
export function installArgument(spec: PluginSpec): string {
  if (spec.kind === 'url') return spec.input
  return spec.tag ? `${spec.name}@${spec.tag}` : spec.name
}

function usage(input: string, why: string): StigmerError {
  return new StigmerError(`Cannot install "${input}": ${why}.`, {
    code: 'USAGE',
    exit: ExitCode.USAGE,
    kind: 'user',
    suggestions: [
      'A first-party plugin by its short name: stigmer plugins install temporal (@stigmer/plugin-temporal)',
      'Any other plugin by its full npm name: stigmer plugins install @acme/stigmer-plugin-x',
      'A packed plugin: stigmer plugins install file:/path/to/plugin-1.0.0.tgz',
    ],
  })
}

/** A failed install as a StigmerError a user can act on (exit 60, PLUGIN). */
export function pluginInstallError(
  spec: PluginSpec,
  error: unknown,
  context: {dataDir: string; registry: string},
): StigmerError {
  if (error instanceof StigmerError) return error
  const message = error instanceof Error ? error.message : String(error)
  const what = spec.kind === 'url' ? spec.input : spec.name
  if (/does not exist in the registry/.test(message)) {
    const lead =
      spec.kind === 'first-party'
        ? `No stigmer plugin "${spec.input}": ${spec.name} is not on the npm registry ${context.registry}, or the registry did not answer.`
        : `${what} is not on the npm registry ${context.registry}, or the registry did not answer.`
    return new StigmerError(lead, {
      cause: error,
      code: 'PLUGIN_NOT_FOUND',
      data: {package: what, registry: context.registry},
      exit: ExitCode.PLUGIN,
      kind: 'user',
      suggestions: [
        ...(spec.kind === 'first-party'
          ? [
              `A short name means a first-party plugin only (${spec.name}). For anyone else's plugin, give its full npm name: stigmer plugins install @acme/stigmer-plugin-${spec.short}`,
            ]
          : [`Check the name: npm view ${what}`]),
        'Another registry: set STIGMER_NPM_REGISTRY (for example https://registry.npmjs.org/) and try again',
        'A packed plugin: stigmer plugins install file:/path/to/plugin-1.0.0.tgz',
      ],
    })
  }

  if (/plugin is invalid/i.test(message)) {
    return new StigmerError(`${what} is not a stigmer plugin (its package.json has no oclif commands or hooks).`, {
      cause: error,
      code: 'PLUGIN_INVALID',
      exit: ExitCode.PLUGIN,
      kind: 'user',
      suggestions: ['Plugins declare "oclif" in package.json (docs/plugins.md): check the package name'],
    })
  }

  if (/EACCES/.test(message)) {
    return new StigmerError(`Cannot install ${what}: permission denied in ${context.dataDir}.`, {
      cause: error,
      code: 'PLUGIN_INSTALL_FAILED',
      details: message,
      exit: ExitCode.PLUGIN,
      kind: 'user',
      suggestions: [`Make ${context.dataDir} yours: sudo chown -R "$USER" "${context.dataDir}"`],
    })
  }

  return new StigmerError(`Installing ${what} failed.`, {
    cause: error,
    code: 'PLUGIN_INSTALL_FAILED',
    command: `npm install ${installArgument(spec)} (in ${context.dataDir}, with the npm bundled in stigmer)`,
    details: message,
    exit: ExitCode.PLUGIN,
    kind: 'external',
    suggestions: ["Re-run with --verbose to see npm's output"],
  })
}

/**
 * How a plugin finds the CLI that is running it: the root folder of the running CLI is
 * recorded under a global symbol, and a plugin reads it to import `./plugin-api` from that
 * folder (plugins/temporal/src/host.ts). `Symbol.for` gives the same symbol in every copy of
 * every module, so the plugin needs nothing from the CLI to look it up.
 *
 * Two places record it: bin/run.js (and bin/dev.js), from its own location, before oclif
 * starts, because oclif imports the commands of a plugin without a manifest (a linked one)
 * while it loads its config; and the init hook (src/hooks/init/host.ts), with oclif's own
 * `config.root`, before any command of an installed plugin is imported, which also covers a
 * CLI run programmatically (oclif's `run()`, @oclif/test).
 */
export const HOST_GLOBAL = Symbol.for('@stigmer/cli')

export interface HostInfo {
  /** oclif's `config.root` of the running CLI: the folder of its package.json. */
  readonly root: string
  readonly version?: string
}

export function recordHost(info: HostInfo): void {
  ;(globalThis as Record<symbol, unknown>)[HOST_GLOBAL] = Object.freeze({...info})
}

export function recordedHost(): HostInfo | undefined {
  const value = (globalThis as Record<symbol, unknown>)[HOST_GLOBAL] as Partial<HostInfo> | undefined
  return typeof value?.root === 'string' ? (value as HostInfo) : undefined
}

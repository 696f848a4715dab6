import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

/** Every file stigmer keeps, in one place. `STIGMER_HOME` moves them all (tests use it). */
export interface StigmerPaths {
  readonly home: string
  readonly configFile: string
  readonly dataDir: string
  readonly defaultWorkspace: string
  readonly stateDir: string
  /** The engine and container that `server start` last used. */
  readonly serverStateFile: string
  readonly serverLock: string
  readonly logsDir: string
  /** stigmer's own lifecycle log (what start/stop did and when). */
  readonly lifecycleLog: string
  /** Sockets of helper services stigmer starts (a short-lived `podman system service`). */
  readonly runDir: string
  /** Markers such as "first-run pull done for image X". */
  readonly markersDir: string
}

export function stigmerPaths(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): StigmerPaths {
  const root = env.STIGMER_HOME && env.STIGMER_HOME.trim() !== '' ? env.STIGMER_HOME : join(home, '.stigmer')
  const dataDir = join(root, 'data')
  const stateDir = join(root, 'state')
  const logsDir = join(root, 'logs')
  return {
    home: root,
    configFile: join(root, 'config.yaml'),
    dataDir,
    defaultWorkspace: join(dataDir, 'workspace'),
    stateDir,
    serverStateFile: join(stateDir, 'server.json'),
    serverLock: join(stateDir, 'server'),
    logsDir,
    lifecycleLog: join(logsDir, 'stigmer.log'),
    runDir: join(root, 'run'),
    markersDir: join(stateDir, 'markers'),
  }
}

/**
 * The workspace folder: --workspace (relative to the current folder), else
 * `workspace:` in the config file (relative to the home folder), else the
 * default. `~` is expanded in both. One rule for `server start` and `doctor`.
 */
export function resolveWorkspace(input: {
  configFile: string
  configured?: string | undefined
  cwd?: string
  defaultWorkspace: string
  flag?: string | undefined
  home?: string
}): {path: string; source: string} {
  const home = input.home ?? homedir()
  const expand = (raw: string) => (raw === '~' ? home : raw.startsWith('~/') ? join(home, raw.slice(2)) : raw)
  if (input.flag) return {path: resolve(input.cwd ?? process.cwd(), expand(input.flag)), source: '--workspace'}
  if (input.configured)
    return {path: resolve(home, expand(input.configured)), source: `workspace in ${input.configFile}`}
  return {path: input.defaultWorkspace, source: 'default'}
}

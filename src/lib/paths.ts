import {homedir} from 'node:os'
import {join} from 'node:path'

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

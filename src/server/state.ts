import {existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'

import {stigmerPaths} from '../lib/paths.js'

/** What `server start` records so that status/logs/stop (and the next start) find the container. */
export interface ServerState {
  readonly runtime: string
  readonly endpoint: string
  readonly containerId: string
  readonly containerName: string
  readonly image: string
  readonly network: string
  readonly networkReason: string
  readonly workspace: string
  readonly startedAt: string
  readonly cliVersion: string
}

export function readServerState(file: string): ServerState | undefined {
  if (!existsSync(file)) return undefined
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ServerState>
    if (typeof parsed.runtime !== 'string' || typeof parsed.containerName !== 'string') return undefined
    return parsed as ServerState
  } catch {
    return undefined
  }
}

/** Atomic write (temp file + rename): a crash never leaves a half-written state file. */
export function writeServerState(file: string, state: ServerState): void {
  mkdirSync(dirname(file), {recursive: true})
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify(state, null, 2) + '\n', {mode: 0o600})
  renameSync(temp, file)
}

export function clearServerState(file: string): void {
  rmSync(file, {force: true})
}

/** The engine of the last `server start` (for status, logs, stop and start to find the container), and the file that says so. */
export function rememberedEngine(
  env: NodeJS.ProcessEnv = process.env,
): undefined | {runtime: string; stateFile: string} {
  const stateFile = stigmerPaths(env).serverStateFile
  const state = readServerState(stateFile)
  return state ? {runtime: state.runtime, stateFile} : undefined
}

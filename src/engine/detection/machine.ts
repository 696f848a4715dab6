import {accessSync, constants, existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, join} from 'node:path'

import type {MachineView} from './strategies.js'

/** Full path of an executable on PATH (PATHEXT on Windows), without spawning anything. */
export function which(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(delimiter).filter(Boolean)
  const exts = platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : ['']
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = join(dir, command + ext)
      try {
        accessSync(candidate, constants.X_OK)
        return candidate
      } catch {
        // keep looking
      }
    }
  }

  return undefined
}

/** The real machine, as strategies see it. */
export function currentMachine(env: NodeJS.ProcessEnv = process.env): MachineView {
  return {
    env,
    exists: (p) => existsSync(p),
    homedir: homedir(),
    platform: process.platform,
    readFile(p) {
      try {
        return readFileSync(p, 'utf8')
      } catch {
        return undefined
      }
    },
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    which: (c) => which(c, env),
  }
}

import {appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync} from 'node:fs'
import {dirname} from 'node:path'

import {redact} from '../lib/redact.js'

/** stigmer's own record of what start/stop did and when (`server logs --all` interleaves it). */
export interface LifecycleEntry {
  readonly time: string
  readonly event: string
  readonly message: string
  readonly data?: Record<string, unknown>
}

const MAX_BYTES = 1_000_000
const KEEP = 3

/** Appends one JSON line, rotating stigmer.log -> .1 -> .2 -> .3 at 1 MB. Never throws. */
export function logLifecycle(file: string, event: string, message: string, data?: Record<string, unknown>): void {
  try {
    mkdirSync(dirname(file), {recursive: true})
    if (existsSync(file) && statSync(file).size > MAX_BYTES) {
      rmSync(`${file}.${KEEP}`, {force: true})
      for (let i = KEEP - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`)
      renameSync(file, `${file}.1`)
    }

    const entry: LifecycleEntry = {event, message, time: new Date().toISOString(), ...(data ? {data} : {})}
    appendFileSync(file, redact(JSON.stringify(entry)) + '\n', {mode: 0o600})
  } catch {
    // The lifecycle log is a convenience; never fail a command over it.
  }
}

/** Entries from the rotated files and the current one, oldest first. */
export function readLifecycle(file: string): LifecycleEntry[] {
  const out: LifecycleEntry[] = []
  for (const path of [...Array.from({length: KEEP}, (_, i) => `${file}.${KEEP - i}`), file]) {
    if (!existsSync(path)) continue
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue
      try {
        out.push(JSON.parse(line) as LifecycleEntry)
      } catch {
        // a torn line from a crash: skip it
      }
    }
  }

  return out
}

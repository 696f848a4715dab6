import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {runtimeFlag} from '../../lib/flags.js'
import {stigmerPaths} from '../../lib/paths.js'
import {followLogs, readLogs, parseSince} from '../../server/logs.js'

export default class ServerLogs extends StigmerCommand {
  static override description = `Shows the agent-runner container's logs: its stdout on stdout, its stderr on stderr (with --all, everything on stdout, labelled).

--follow keeps streaming; Ctrl-C detaches and leaves the container running. If the container is replaced while you follow (a "server start" from another terminal), logs switches to the new one; if it stops, logs says so and waits for the next one.
--all interleaves, by time, the container's logs with stigmer's own lifecycle log (what start and stop did and when; ~/.stigmer/logs/stigmer.log, rotated at 1 MB).
Works on a stopped container (shows its last run).
Secret values (the secret variables of your environment and of the container's, URL passwords) show as ****. On a terminal, escape sequences in the container's lines are removed; piped or with --json, lines are exact apart from that masking.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -f',
    '<%= config.bin %> <%= command.id %> -f -n 100',
    '<%= config.bin %> <%= command.id %> --since 10m --timestamps',
    '<%= config.bin %> <%= command.id %> --all',
  ]
  static override flags = {
    all: Flags.boolean({description: "Interleave the container's logs with stigmer's own lifecycle log, by time."}),
    follow: Flags.boolean({
      char: 'f',
      description: 'Keep streaming new lines (Ctrl-C detaches; the container keeps running).',
    }),
    runtime: runtimeFlag,
    since: Flags.string({description: 'Only lines since a time: a duration ago (10m, 1h30m) or an RFC 3339 time.'}),
    tail: Flags.integer({char: 'n', description: 'Only the last N lines (then follow, with -f).', min: 0}),
    timestamps: Flags.boolean({char: 't', description: 'Prefix each line with its time.'}),
  }
  static override needsRuntime = true
  static override summary = "Show (or follow) the agent-runner container's logs."
  static override useRememberedRuntime = true

  async run(): Promise<
    {lines: number} | {lines: Array<{source: string; stream: string; text: string; timestamp: string | undefined}>}
  > {
    const {flags} = await this.parse(ServerLogs)
    const since = flags.since === undefined ? undefined : parseSince(flags.since)
    const {runtime} = await this.runtime(flags.runtime)
    const paths = stigmerPaths()
    const options = {all: flags.all, since, tail: flags.tail, timestamps: flags.timestamps}
    if (this.jsonEnabled()) {
      if (flags.follow) this.error('--json cannot be combined with --follow.', {exit: 2})
      return {lines: await readLogs(runtime, paths, options)}
    }

    const count = await followLogs(runtime, paths, {
      ...options,
      follow: flags.follow,
      note: (t) => this.note(t),
      signal: this.signal,
    })
    return {lines: count}
  }
}

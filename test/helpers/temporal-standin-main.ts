/**
 * Runs the Temporal stand-in (./temporal-standin.ts) as a process, for scripts/demo.sh and by
 * hand: `npx tsx test/helpers/temporal-standin-main.ts [--port 7233] [--host 0.0.0.0]`.
 * It prints one line when it listens, then a line per change in the pollers it sees, and stops
 * on SIGTERM or SIGINT. It is NOT Temporal (see temporal-standin.ts): it says so on every line.
 */
import {parseArgs} from 'node:util'

import {startTemporalStandin} from './temporal-standin.js'

const {values} = parseArgs({
  options: {host: {default: '0.0.0.0', type: 'string'}, port: {default: '7233', type: 'string'}},
})
const standin = await startTemporalStandin({host: values.host, pollerTtlMs: 30_000, port: Number(values.port)})
const say = (text: string) => console.log(`[temporal STAND-IN, not a real Temporal server] ${text}`)
say(`listening on ${values.host}:${standin.port}: GetSystemInfo, DescribeNamespace, Poll*TaskQueue, DescribeTaskQueue`)
let seen = ''
const timer = setInterval(() => {
  const now = standin
    .pollers()
    .map((p) => `${p.type} poller ${p.identity} on ${p.namespace}/${p.taskQueue}`)
    .sort()
    .join('; ')
  if (now !== seen) say(now === '' ? 'no pollers' : now)
  seen = now
}, 1000)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    clearInterval(timer)
    await standin.stop()
    say('stopped')
    process.exit(0)
  })
}

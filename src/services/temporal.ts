import {canConnect, splitHostPort} from '../lib/tcp.js'

/**
 * Questions stigmer asks Temporal itself, through the Temporal TypeScript
 * client (@temporalio/client). It is loaded here, by dynamic import, only
 * when a command asks: it is large (hundreds of milliseconds to load), and
 * most commands never need it.
 *
 * - `temporalAnswers`: a real gRPC call (WorkflowService/GetSystemInfo, what
 *   the client's connect does), not a TCP connect: an engine's port forwarder
 *   or any other server on 7233 accepts TCP, only Temporal answers this. (A
 *   TCP connect goes first, so that nothing listening fails at once.)
 * - `taskQueuePollers`: DescribeTaskQueue on the agent-runner's task queue,
 *   for activity and workflow pollers: the seed's "worker registered" check.
 */

export interface TemporalAnswer {
  readonly ok: boolean
  /** The server's version when it answered; why not, when it did not. */
  readonly detail: string
}

export interface PollerReport {
  readonly address: string
  readonly namespace: string
  readonly taskQueue: string
  /** Distinct poller identities over activity and workflow pollers. */
  readonly pollers: readonly string[]
  readonly activityPollers: number
  readonly workflowPollers: number
}

/** temporal.api.enums.v1.TaskQueueType */
const TASK_QUEUE_TYPE_WORKFLOW = 1
const TASK_QUEUE_TYPE_ACTIVITY = 2

type ClientModule = typeof import('@temporalio/client')
let loading: Promise<ClientModule> | undefined

function client(): Promise<ClientModule> {
  loading ??= import('@temporalio/client')
  return loading
}

/** Temporal's client wants host:port; TEMPORAL_SERVICE_ADDRESS may be host alone (port 7233) or a URL. */
export function dialAddress(address: string): string {
  const parsed = splitHostPort(address)
  if (parsed) return `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`
  return `${address.trim()}:7233`
}

function reason(error: unknown): string {
  const e = error as {cause?: {details?: string; message?: string}; details?: string; message?: string}
  const text = e?.cause?.details ?? e?.details ?? e?.cause?.message ?? e?.message ?? String(error)
  return text.split('\n')[0]!.trim()
}

async function withConnection<T>(
  address: string,
  timeoutMs: number,
  fn: (connection: import('@temporalio/client').Connection) => Promise<T>,
): Promise<T> {
  // Nothing listening is the common case (Temporal not started): a TCP connect says so in a
  // millisecond, where the gRPC client would retry until its deadline. Only what accepts TCP
  // gets the real call (and the client is loaded only then).
  const dial = dialAddress(address)
  if (!(await canConnect(dial, Math.min(timeoutMs, 1000)))) throw new Error(`nothing accepts connections at ${dial}`)
  const {Connection} = await client()
  // lazy + ensureConnected (not connect): a connection that fails to connect is closed too, or its
  // channel would keep retrying and hold the process open.
  const connection = Connection.lazy({address: dial, connectTimeout: timeoutMs})
  try {
    await connection.ensureConnected()
    return await fn(connection)
  } finally {
    await connection.close().catch(() => {})
  }
}

/** Whether a Temporal frontend answers a gRPC call at address within timeoutMs. */
export async function temporalAnswers(address: string, timeoutMs = 2000): Promise<TemporalAnswer> {
  try {
    return await withConnection(address, timeoutMs, async (connection) => {
      const info = await connection.workflowService.getSystemInfo({})
      return {detail: info.serverVersion ? `Temporal ${info.serverVersion}` : 'Temporal answered', ok: true}
    })
  } catch (error) {
    return {detail: reason(error), ok: false}
  }
}

/** The pollers Temporal knows on namespace/taskQueue (activity and workflow). Throws when Temporal does not answer. */
export async function taskQueuePollers(
  address: string,
  namespace: string,
  taskQueue: string,
  timeoutMs = 3000,
): Promise<PollerReport> {
  try {
    return await withConnection(address, timeoutMs, async (connection) => {
      const ask = (taskQueueType: number) =>
        connection.withDeadline(Date.now() + timeoutMs, () =>
          connection.workflowService.describeTaskQueue({
            namespace,
            taskQueue: {kind: 1, name: taskQueue},
            taskQueueType,
          }),
        )
      const [activity, workflow] = await Promise.all([ask(TASK_QUEUE_TYPE_ACTIVITY), ask(TASK_QUEUE_TYPE_WORKFLOW)])
      const identities = [...(activity.pollers ?? []), ...(workflow.pollers ?? [])].map((p) => p.identity ?? '')
      return {
        activityPollers: activity.pollers?.length ?? 0,
        address,
        namespace,
        pollers: [...new Set(identities)],
        taskQueue,
        workflowPollers: workflow.pollers?.length ?? 0,
      }
    })
  } catch (error) {
    throw new Error(`Temporal at ${address} did not answer DescribeTaskQueue: ${reason(error)}`)
  }
}

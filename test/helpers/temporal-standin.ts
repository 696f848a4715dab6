/**
 * A stand-in for the Temporal frontend, for tests and for the demo where no
 * real Temporal server can run (offline, no image of it): a gRPC server built
 * from Temporal's published protos (@temporalio/proto), speaking the real
 * WorkflowService wire protocol. It is NOT Temporal: it runs no workflows and
 * hands out no tasks. It does what a worker and `stigmer server status` meet:
 *
 * - GetSystemInfo (what clients call first, and stigmer's preflight);
 * - DescribeNamespace (any namespace exists);
 * - PollActivityTaskQueue / PollWorkflowTaskQueue: long polls, held until
 *   `pollHoldMs` passes (then an empty response, as Temporal answers a poll
 *   that found no task) or the client cancels; each poll records its poller;
 * - DescribeTaskQueue: the pollers seen on that namespace/queue/type in the
 *   last `pollerTtlMs` (Temporal keeps them for a few minutes; a short TTL
 *   keeps tests fast);
 * - grpc.health.v1.Health/Check: SERVING.
 *
 * Everything else answers UNIMPLEMENTED. `stop()` closes every connection at
 * once, as a crashed or stopped Temporal would.
 */
import * as grpc from '@grpc/grpc-js'
import {createRequire} from 'node:module'

const SERVICE = 'temporal.api.workflowservice.v1.WorkflowService'
const TASK_QUEUE_TYPE = {activity: 2, workflow: 1} as const

interface ProtoType {
  decode(buf: Uint8Array): Record<string, unknown>
  encode(msg: Record<string, unknown>): {finish(): Uint8Array}
  fromObject(obj: Record<string, unknown>): Record<string, unknown>
  toObject(msg: Record<string, unknown>, opts?: Record<string, unknown>): Record<string, unknown>
}

interface ProtoRoot {
  lookupService(name: string): {methods: Record<string, {requestType: string; responseType: string}>}
  lookupType(name: string): ProtoType
}

// The protos as a reflection root (types and service methods), as @temporalio/proto publishes them.
const root = createRequire(import.meta.url)('@temporalio/proto/protos/json-module.js') as ProtoRoot

export interface Poller {
  readonly namespace: string
  readonly taskQueue: string
  readonly type: 'activity' | 'workflow'
  readonly identity: string
  lastAccess: number
}

export interface StandinOptions {
  readonly host?: string
  readonly port?: number
  readonly pollHoldMs?: number
  readonly pollerTtlMs?: number
}

export interface TemporalStandin {
  readonly host: string
  readonly port: number
  /** host:port as a client on this machine dials it. */
  readonly address: string
  /** Pollers currently known (within the TTL). */
  pollers(filter?: {namespace?: string; taskQueue?: string}): Poller[]
  /** Connections accepted so far. */
  readonly connections: number
  /** Closes every connection and stops listening. */
  stop(): Promise<void>
}

function typeOf(name: string): ProtoType {
  return root.lookupType(name.startsWith('.') ? name.slice(1) : name)
}

function unimplemented(method: string): grpc.handleUnaryCall<Buffer, Buffer> {
  return (_call, callback) =>
    callback({code: grpc.status.UNIMPLEMENTED, details: `the stigmer Temporal stand-in does not implement ${method}`})
}

export async function startTemporalStandin(options: StandinOptions = {}): Promise<TemporalStandin> {
  const host = options.host ?? '0.0.0.0'
  const pollHoldMs = options.pollHoldMs ?? 20_000
  const pollerTtlMs = options.pollerTtlMs ?? 5000
  const known = new Map<string, Poller>()
  const pending = new Set<() => void>()
  let connections = 0

  const live = (): Poller[] => {
    const now = Date.now()
    for (const [key, poller] of known) if (now - poller.lastAccess > pollerTtlMs) known.delete(key)
    return [...known.values()]
  }

  const pollHandler =
    (
      type: Poller['type'],
      responseType: ProtoType,
    ): grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>> =>
    (call, callback) => {
      const request = call.request as {identity?: string; namespace?: string; taskQueue?: {name?: string}}
      const poller: Poller = {
        identity: request.identity ?? '',
        lastAccess: Date.now(),
        namespace: request.namespace ?? '',
        taskQueue: request.taskQueue?.name ?? '',
        type,
      }
      const key = `${poller.namespace}\u0000${poller.taskQueue}\u0000${type}\u0000${poller.identity}`
      known.set(key, poller)
      // While the poll is held, the poller stays current (Temporal counts an outstanding poll as access).
      const touch = setInterval(() => {
        poller.lastAccess = Date.now()
      }, 1000)
      const finish = () => {
        clearTimeout(timer)
        clearInterval(touch)
        pending.delete(finish)
        poller.lastAccess = Date.now()
      }

      const timer = setTimeout(() => {
        finish()
        callback(null, responseType.fromObject({}))
      }, pollHoldMs)
      pending.add(finish)
      call.on('cancelled', finish)
    }

  const describeTaskQueue: grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>> = (
    call,
    callback,
  ) => {
    const request = call.request as {namespace?: string; taskQueue?: {name?: string}; taskQueueType?: number}
    const type = request.taskQueueType === TASK_QUEUE_TYPE.activity ? 'activity' : 'workflow'
    const pollers = live()
      .filter((p) => p.namespace === request.namespace && p.taskQueue === request.taskQueue?.name && p.type === type)
      .map((p) => ({
        identity: p.identity,
        lastAccessTime: {nanos: (p.lastAccess % 1000) * 1e6, seconds: Math.floor(p.lastAccess / 1000)},
        ratePerSecond: 100_000,
      }))
    callback(null, {pollers})
  }

  const implemented: Record<string, grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>> = {
    DescribeNamespace(call, callback) {
      const request = call.request as {namespace?: string}
      callback(null, {namespaceInfo: {name: request.namespace ?? 'default', state: 1}})
    },
    DescribeTaskQueue: describeTaskQueue,
    GetSystemInfo(_call, callback) {
      callback(null, {capabilities: {}, serverVersion: '0.0.0-stigmer-standin'})
    },
  }

  const service = root.lookupService(SERVICE)
  const definition: Record<string, grpc.MethodDefinition<Record<string, unknown>, Record<string, unknown>>> = {}
  const handlers: grpc.UntypedServiceImplementation = {}
  for (const [name, method] of Object.entries(service.methods)) {
    const requestType = typeOf(
      method.requestType.includes('.') ? method.requestType : `temporal.api.workflowservice.v1.${method.requestType}`,
    )
    const responseType = typeOf(
      method.responseType.includes('.')
        ? method.responseType
        : `temporal.api.workflowservice.v1.${method.responseType}`,
    )
    definition[name] = {
      path: `/${SERVICE}/${name}`,
      requestDeserialize: (buf: Buffer) =>
        requestType.toObject(requestType.decode(buf), {defaults: false, longs: Number}),
      requestSerialize: (msg: Record<string, unknown>) =>
        Buffer.from(requestType.encode(requestType.fromObject(msg)).finish()),
      requestStream: false,
      responseDeserialize: (buf: Buffer) => responseType.toObject(responseType.decode(buf)),
      responseSerialize: (msg: Record<string, unknown>) =>
        Buffer.from(responseType.encode(responseType.fromObject(msg)).finish()),
      responseStream: false,
    }
    handlers[name] =
      name === 'PollActivityTaskQueue'
        ? pollHandler('activity', responseType)
        : name === 'PollWorkflowTaskQueue'
          ? pollHandler('workflow', responseType)
          : (implemented[name] ?? unimplemented(name))
  }

  // grpc.health.v1.Health/Check: an empty request, {status: SERVING} = field 1 varint 1.
  const health: grpc.ServiceDefinition = {
    Check: {
      path: '/grpc.health.v1.Health/Check',
      requestDeserialize: (buf: Buffer) => buf,
      requestSerialize: (buf: Buffer) => buf,
      requestStream: false,
      responseDeserialize: (buf: Buffer) => buf,
      responseSerialize: (buf: Buffer) => buf,
      responseStream: false,
    },
  }

  const server = new grpc.Server()
  server.addService(definition as grpc.ServiceDefinition, handlers)
  server.addService(health, {Check: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from([8, 1]))})
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    )
  })
  // Count connections through the http2 server grpc-js keeps (for tests that want to see a client connect).
  const http2Servers = (server as unknown as {http2Servers?: Map<{on(e: string, f: () => void): void}, unknown>})
    .http2Servers
  for (const s of http2Servers?.keys() ?? []) s.on('connection', () => connections++)

  return {
    address: `${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    get connections() {
      return connections
    },
    host,
    pollers(filter = {}) {
      return live().filter(
        (p) =>
          (filter.namespace === undefined || p.namespace === filter.namespace) &&
          (filter.taskQueue === undefined || p.taskQueue === filter.taskQueue),
      )
    },
    port,
    async stop() {
      for (const finish of pending) finish()
      server.forceShutdown()
      known.clear()
    },
  }
}

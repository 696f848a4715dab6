import {createRequire} from 'node:module'

import {canConnect, parseHostPort} from '../lib/tcp.js'

/**
 * Questions stigmer asks Temporal itself: two unary gRPC calls on Temporal's
 * WorkflowService, made with Node's own HTTP/2 client and protobufjs's wire
 * reader and writer (protobufjs/minimal). Not through the Temporal SDK
 * (@temporalio/client): loading it costs 0.3 to 0.4 s, more than `server
 * status` takes without it (docs/performance.md, "What asking Temporal costs").
 * The two messages are encoded by field number, as Temporal's protos define
 * them; test/unit/server/temporal.test.ts checks both against
 * the encoder of Temporal's published protos (the @temporalio/proto package) and against a real grpc-js server built
 * from those protos (the stand-in).
 *
 * - `temporalAnswers`: a real gRPC call (WorkflowService/GetSystemInfo, what
 *   the SDK's connect does), not a TCP connect: an engine's port forwarder
 *   or any other server on 7233 accepts TCP, only Temporal answers this. (A
 *   TCP connect goes first, so that nothing listening fails at once.)
 * - `taskQueuePollers`: DescribeTaskQueue on the agent-runner's task queue,
 *   for activity and workflow pollers: the seed's "worker registered" check.
 *
 * Plaintext gRPC (h2c), no API key or TLS: what the SDK connection used here
 * did before, and what a local Temporal (temporal server start-dev) serves.
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
/** temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL */
const TASK_QUEUE_KIND_NORMAL = 1
const SERVICE = 'temporal.api.workflowservice.v1.WorkflowService'

type Protobuf = typeof import('protobufjs/minimal.js')
type Reader = InstanceType<Protobuf['Reader']>
// protobufjs is CommonJS; its `minimal` entry is the wire format only (no reflection, no .proto parser).
const protobuf = (): Protobuf => createRequire(import.meta.url)('protobufjs/minimal.js') as Protobuf

/** Temporal's client wants host:port; TEMPORAL_SERVICE_ADDRESS may be host alone (port 7233) or a URL. */
export function dialAddress(address: string): string {
  const parsed = parseHostPort(address, 7233)
  if (parsed) return `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`
  return `${address.trim()}:7233`
}

/** A field's key on the wire: its number and wire type (0 varint, 2 length-delimited). */
const key = (field: number, wireType: 0 | 2): number => field * 8 + wireType

/** temporal.api.workflowservice.v1.DescribeTaskQueueRequest: namespace (1), task_queue (2: name 1, kind 2), task_queue_type (3). */

export function encodeDescribeTaskQueueRequest(request: {
  namespace: string
  taskQueue: string
  taskQueueType: number
}): Uint8Array {
  const writer = protobuf().Writer.create()
  writer.uint32(key(1, 2)).string(request.namespace)
  writer.uint32(key(2, 2)).fork()
  writer.uint32(key(1, 2)).string(request.taskQueue)
  writer.uint32(key(2, 0)).int32(TASK_QUEUE_KIND_NORMAL)
  writer.ldelim()
  writer.uint32(key(3, 0)).int32(request.taskQueueType)
  return writer.finish()
}

/** Calls `onField(field, reader)` for each field of a message; fields it does not read are skipped. */
function readFields(bytes: Uint8Array, onField: (field: number, reader: Reader) => boolean): void {
  const reader = protobuf().Reader.create(bytes)
  while (reader.pos < reader.len) {
    const tag = reader.uint32()
    if (!onField(Math.floor(tag / 8), reader)) reader.skipType(tag % 8)
  }
}

/** temporal.api.workflowservice.v1.DescribeTaskQueueResponse: the identity (2) of each of its pollers (1, PollerInfo). */
export function decodePollerIdentities(bytes: Uint8Array): string[] {
  const identities: string[] = []
  readFields(bytes, (field, reader) => {
    if (field !== 1) return false
    let identity = ''
    readFields(reader.bytes(), (inner, r) => {
      if (inner !== 2) return false
      identity = r.string()
      return true
    })
    identities.push(identity)
    return true
  })
  return identities
}

/** temporal.api.workflowservice.v1.GetSystemInfoResponse: server_version (1). */
export function decodeServerVersion(bytes: Uint8Array): string {
  let version = ''
  readFields(bytes, (field, reader) => {
    if (field !== 1) return false
    version = reader.string()
    return true
  })
  return version
}

/** A gRPC error the server sent (grpc-status other than 0), or one of the transport. */
class GrpcError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message)
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"). */
function grpcMessage(value: unknown): string {
  const text = String(value ?? '')
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * Unary gRPC calls over one HTTP/2 connection, in parallel: each request is a 5-byte prefix
 * (not compressed, big-endian length) and the message; each answer is a message and its
 * grpc-status trailer (or headers, for a trailers-only answer). The connection is closed when
 * the calls end, whatever happens; the first failure fails them all.
 */
export async function unaryCalls(
  dial: string,
  calls: ReadonlyArray<{method: string; request: Uint8Array}>,
  timeoutMs: number,
): Promise<Uint8Array[]> {
  // Loaded here: most runs of status find nothing on Temporal's port and never call.
  const {connect: http2Connect, constants: http2Constants} = await import('node:http2')
  const session = http2Connect(`http://${dial}`)
  return new Promise<Uint8Array[]>((resolve, reject) => {
    let settled = false
    const answers: Array<Uint8Array | undefined> = calls.map(() => undefined)
    let left = calls.length
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      session.destroy()
      reject(error)
    }

    const answered = (index: number, value: Uint8Array) => {
      if (settled) return
      answers[index] = value
      if (--left > 0) return
      settled = true
      clearTimeout(timer)
      session.close()
      resolve(answers as Uint8Array[])
    }

    const timer = setTimeout(
      () => fail(new GrpcError(`no answer within ${timeoutMs} ms (deadline exceeded)`, 4)),
      timeoutMs,
    )
    session.on('error', fail)
    for (const [index, {method, request}] of calls.entries()) {
      const stream = session.request({
        [http2Constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [http2Constants.HTTP2_HEADER_METHOD]: 'POST',
        [http2Constants.HTTP2_HEADER_PATH]: `/${SERVICE}/${method}`,
        [http2Constants.HTTP2_HEADER_TE]: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
      })
      const chunks: Buffer[] = []
      let status: number | undefined
      let message = ''
      const statusFrom = (headers: Record<string, unknown>) => {
        if (headers['grpc-status'] === undefined) return
        status = Number(headers['grpc-status'])
        message = grpcMessage(headers['grpc-message'])
      }

      stream.on('response', (headers) => {
        const httpStatus = Number(headers[http2Constants.HTTP2_HEADER_STATUS])
        const type = String(headers[http2Constants.HTTP2_HEADER_CONTENT_TYPE] ?? '')
        if (httpStatus !== 200 || !type.startsWith('application/grpc')) {
          fail(new GrpcError(`not a gRPC server (HTTP ${httpStatus}${type ? `, ${type}` : ''})`))
          return
        }

        statusFrom(headers)
      })
      stream.on('trailers', (trailers) => statusFrom(trailers))
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('error', fail)
      stream.on('close', () => {
        if (status === undefined) return fail(new GrpcError('the connection closed before the call ended'))
        if (status !== 0) return fail(new GrpcError(message || `gRPC status ${status}`, status))
        const body = Buffer.concat(chunks)
        if (body.length < 5) return fail(new GrpcError('an answer without a message'))
        if (body[0] !== 0) return fail(new GrpcError('a compressed answer, which was not asked for'))
        const length = body.readUInt32BE(1)
        if (body.length < 5 + length) return fail(new GrpcError('a truncated answer'))
        answered(index, body.subarray(5, 5 + length))
      })
      const frame = Buffer.alloc(5 + request.length)
      frame.writeUInt32BE(request.length, 1)
      frame.set(request, 5)
      stream.end(frame)
    }
  })
}

function reason(error: unknown): string {
  const e = error as {message?: string}
  return (e?.message ?? String(error)).split('\n')[0]!.trim()
}

/**
 * Nothing listening is the common case (Temporal not started): a TCP connect says so in a
 * millisecond. Only what accepts TCP gets the real call.
 */
async function call(
  address: string,
  calls: ReadonlyArray<{method: string; request: Uint8Array}>,
  timeoutMs: number,
): Promise<Uint8Array[]> {
  const dial = dialAddress(address)
  if (!(await canConnect(dial, Math.min(timeoutMs, 1000)))) throw new Error(`nothing accepts connections at ${dial}`)
  return unaryCalls(dial, calls, timeoutMs)
}

/** Whether a Temporal frontend answers a gRPC call at address within timeoutMs. */
export async function temporalAnswers(address: string, timeoutMs = 2000): Promise<TemporalAnswer> {
  try {
    const [answer] = await call(address, [{method: 'GetSystemInfo', request: new Uint8Array(0)}], timeoutMs)
    const version = decodeServerVersion(answer!)
    return {detail: version ? `Temporal ${version}` : 'Temporal answered', ok: true}
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
    const ask = (taskQueueType: number) => ({
      method: 'DescribeTaskQueue',
      request: encodeDescribeTaskQueueRequest({namespace, taskQueue, taskQueueType}),
    })
    const [activity, workflow] = (
      await call(address, [ask(TASK_QUEUE_TYPE_ACTIVITY), ask(TASK_QUEUE_TYPE_WORKFLOW)], timeoutMs)
    ).map((answer) => decodePollerIdentities(answer))
    return {
      activityPollers: activity.length,
      address,
      namespace,
      pollers: [...new Set([...activity, ...workflow])],
      taskQueue,
      workflowPollers: workflow.length,
    }
  } catch (error) {
    throw new Error(`Temporal at ${address} did not answer DescribeTaskQueue: ${reason(error)}`)
  }
}

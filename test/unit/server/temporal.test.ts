import {Connection} from '@temporalio/client'
import proto from '@temporalio/proto'
import {expect} from 'chai'
import {createServer as createHttp2Server, type Http2Server} from 'node:http2'
import {createServer, type Server} from 'node:net'

import {
  decodePollerIdentities,
  decodeServerVersion,
  dialAddress,
  encodeDescribeTaskQueueRequest,
  taskQueuePollers,
  temporalAnswers,
} from '../../../src/server/temporal.js'
import {startTemporalStandin, type TemporalStandin} from '../../helpers/temporal-standin.js'

describe("server/temporal (against the stand-in built from Temporal's protos)", () => {
  let standin: TemporalStandin | undefined
  let other: Server | undefined

  afterEach(async () => {
    await standin?.stop()
    await new Promise<void>((resolve) => {
      if (other) other.close(() => resolve())
      else resolve()
    })
    standin = undefined
    other = undefined
  })

  it("the messages, byte for byte as Temporal's own protos (@temporalio/proto) encode and decode them", () => {
    const {DescribeTaskQueueRequest, DescribeTaskQueueResponse, GetSystemInfoResponse} =
      proto.temporal.api.workflowservice.v1
    const ours = encodeDescribeTaskQueueRequest({namespace: 'ns-1', taskQueue: 'agent-runner', taskQueueType: 2})
    const theirs = DescribeTaskQueueRequest.encode({
      namespace: 'ns-1',
      taskQueue: {kind: 1, name: 'agent-runner'},
      taskQueueType: 2,
    }).finish()
    expect(Buffer.from(ours).toString('hex')).to.equal(Buffer.from(theirs).toString('hex'))
    expect(DescribeTaskQueueRequest.decode(ours).toJSON()).to.deep.equal({
      namespace: 'ns-1',
      taskQueue: {kind: 'TASK_QUEUE_KIND_NORMAL', name: 'agent-runner'},
      taskQueueType: 'TASK_QUEUE_TYPE_ACTIVITY',
    })

    // Every field of PollerInfo set, and fields of the response this client does not read.
    const response = DescribeTaskQueueResponse.encode(
      DescribeTaskQueueResponse.fromObject({
        pollers: [
          {
            identity: 'worker-1@host',
            lastAccessTime: {nanos: 5, seconds: 1_700_000_000},
            ratePerSecond: 100_000,
            workerVersionCapabilities: {buildId: 'b1', useVersioning: true},
          },
          {identity: 'worker-2@host', ratePerSecond: 1.5},
          {},
        ],
        taskQueueStatus: {backlogCountHint: 7, readLevel: 3},
      }),
    ).finish()
    expect(decodePollerIdentities(response)).to.deep.equal(['worker-1@host', 'worker-2@host', ''])
    expect(decodePollerIdentities(DescribeTaskQueueResponse.encode({}).finish())).to.deep.equal([])

    const info = GetSystemInfoResponse.encode({
      capabilities: {signalAndQueryHeader: true},
      serverVersion: '1.25.2',
    }).finish()
    expect(decodeServerVersion(info)).to.equal('1.25.2')
  })

  it("a gRPC error status is the answer's reason; an HTTP server that is not gRPC is named so", async () => {
    const server: Http2Server = createHttp2Server()
    server.on('stream', (stream, headers) => {
      if (String(headers[':path']).endsWith('/GetSystemInfo')) {
        stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
        stream.on('wantTrailers', () =>
          stream.sendTrailers({'grpc-message': encodeURIComponent('namespace "x" not found'), 'grpc-status': '5'}),
        )
        stream.end()
      } else {
        stream.respond({':status': 404, 'content-type': 'text/plain'})
        stream.end('no')
      }
    })
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve)
    })
    try {
      const {port} = server.address() as {port: number}
      expect(await temporalAnswers(`127.0.0.1:${port}`, 2000)).to.deep.equal({
        detail: 'namespace "x" not found',
        ok: false,
      })
      let error: Error | undefined
      await taskQueuePollers(`127.0.0.1:${port}`, 'default', 'q1', 2000).catch((error_: Error) => {
        error = error_
      })
      expect(error?.message).to.equal(
        `Temporal at 127.0.0.1:${port} did not answer DescribeTaskQueue: not a gRPC server (HTTP 404, text/plain)`,
      )
    } finally {
      await new Promise((resolve) => {
        server.close(resolve)
      })
    }
  })

  it('dialAddress: host alone gets 7233; IPv6 keeps its brackets', () => {
    expect(dialAddress('temporal')).to.equal('temporal:7233')
    expect(dialAddress('localhost:7233')).to.equal('localhost:7233')
    expect(dialAddress('[::1]:7233')).to.equal('[::1]:7233')
  })

  it('Temporal answers GetSystemInfo: ok, with its version', async () => {
    standin = await startTemporalStandin({host: '127.0.0.1'})
    const answer = await temporalAnswers(standin.address, 3000)
    expect(answer).to.deep.equal({detail: 'Temporal 0.0.0-stigmer-standin', ok: true})
  })

  it('nothing listening: not ok at once, not after the gRPC deadline', async () => {
    other = createServer()
    await new Promise<void>((resolve) => {
      other!.listen(0, '127.0.0.1', resolve)
    })
    const {port} = other.address() as {port: number}
    await new Promise<void>((resolve) => {
      other!.close(() => resolve())
    })
    other = undefined
    const started = Date.now()
    const answer = await temporalAnswers(`127.0.0.1:${port}`, 5000)
    expect(answer.ok).to.equal(false)
    expect(answer.detail).to.match(/nothing accepts connections/)
    expect(Date.now() - started).to.be.lessThan(1000)
  })

  it('a server that accepts TCP but is not Temporal: not ok', async () => {
    other = createServer((socket) => {
      socket.on('error', () => {})
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')
      // The gRPC client may leave its side half-open: do not let that hold the server's close.
      setTimeout(() => socket.destroy(), 100).unref()
    })
    await new Promise<void>((resolve) => {
      other!.listen(0, '127.0.0.1', resolve)
    })
    const {port} = other.address() as {port: number}
    expect((await temporalAnswers(`127.0.0.1:${port}`, 1500)).ok).to.equal(false)
  })

  it('taskQueuePollers: none, then the poller of a worker polling the queue (a real SDK worker connection polls)', async () => {
    standin = await startTemporalStandin({host: '127.0.0.1', pollHoldMs: 2000})
    expect((await taskQueuePollers(standin.address, 'default', 'q1')).pollers).to.deep.equal([])
    const worker = await Connection.connect({address: standin.address})
    try {
      const poll = worker.workflowService
        .pollActivityTaskQueue({identity: 'worker-1@test', namespace: 'default', taskQueue: {kind: 1, name: 'q1'}})
        .catch(() => {})
      await new Promise((resolve) => {
        setTimeout(resolve, 200)
      })
      const report = await taskQueuePollers(standin.address, 'default', 'q1')
      expect(report).to.deep.include({
        activityPollers: 1,
        pollers: ['worker-1@test'],
        taskQueue: 'q1',
        workflowPollers: 0,
      })
      expect((await taskQueuePollers(standin.address, 'other-namespace', 'q1')).pollers).to.deep.equal([])
      await poll
    } finally {
      await worker.close()
    }
  })

  it('taskQueuePollers when Temporal is not there: an error naming the address', async () => {
    let error: Error | undefined
    try {
      await taskQueuePollers('127.0.0.1:1', 'default', 'q1')
    } catch (error_) {
      error = error_ as Error
    }

    expect(error?.message).to.match(/^Temporal at 127\.0\.0\.1:1 did not answer DescribeTaskQueue: nothing accepts/)
  })
})

import {Connection} from '@temporalio/client'
import {expect} from 'chai'
import {createServer, type Server} from 'node:net'

import {dialAddress, taskQueuePollers, temporalAnswers} from '../../../src/services/temporal.js'
import {startTemporalStandin, type TemporalStandin} from '../../helpers/temporal-standin.js'

describe("services/temporal (against the stand-in built from Temporal's protos)", () => {
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

  it('taskQueuePollers: none, then the poller of a worker polling the queue (real client both ways)', async () => {
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

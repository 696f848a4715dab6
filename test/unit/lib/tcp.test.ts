import {expect} from 'chai'
import {type AddressInfo, createServer, type Server, type Socket} from 'node:net'

import {canConnect, grpcAnswers, parseHostPort} from '../../../src/lib/tcp.js'

/** A local TCP server; `onSocket` decides what it does with each connection. */
async function listen(onSocket: (socket: Socket) => void): Promise<{address: string; server: Server}> {
  const server = createServer(onSocket)
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  return {address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server}
}

async function close(server: Server): Promise<void> {
  await new Promise((resolve) => {
    server.close(resolve)
  })
}

describe('tcp', () => {
  it('parseHostPort: host:port, [v6]:port and URLs; undefined without a port', () => {
    expect(parseHostPort('localhost:7233')).to.deep.equal({host: 'localhost', port: 7233})
    expect(parseHostPort('[::1]:7233')).to.deep.equal({host: '::1', port: 7233})
    expect(parseHostPort('http://localhost:11434/v1')).to.deep.equal({host: 'localhost', port: 11_434})
    expect(parseHostPort('localhost')).to.equal(undefined)
  })

  it('a server that answers the greeting: both probes say yes', async () => {
    const {address, server} = await listen((socket) => {
      socket.once('data', () => socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])))
      socket.on('error', () => {})
    })
    try {
      expect(await canConnect(address)).to.equal(true)
      expect(await grpcAnswers(address)).to.equal(true)
    } finally {
      await close(server)
    }
  })

  it('a port forwarder with nothing behind it (accepts, then hangs up): canConnect yes, grpcAnswers no', async () => {
    const {address, server} = await listen((socket) => socket.destroy())
    try {
      expect(await canConnect(address)).to.equal(true)
      expect(await grpcAnswers(address)).to.equal(false)
    } finally {
      await close(server)
    }
  })

  it('accepts and stays silent: grpcAnswers gives up at its timeout', async () => {
    const {address, server} = await listen((socket) => socket.on('error', () => {}).resume())
    try {
      expect(await grpcAnswers(address, 300)).to.equal(false)
    } finally {
      await close(server)
    }
  })

  it('nothing listening, or no port: both say no', async () => {
    const {address, server} = await listen(() => {})
    await close(server)
    expect(await canConnect(address)).to.equal(false)
    expect(await grpcAnswers(address)).to.equal(false)
    expect(await canConnect('localhost')).to.equal(false)
  })
})

import {expect} from 'chai'
import {createServer, type Server} from 'node:net'

import {DockerAdapter} from '../../../src/adapters/docker.js'
import {RuntimeError} from '../../../src/engine/errors.js'
import {fakeMachine} from '../engine/detection/fake-machine.js'

/** Greets like an SSH server, then hangs up: what a server that refuses the session looks like to ssh2. */
async function greetAndHangUp(): Promise<{port: number; server: Server}> {
  const server = createServer((socket) => {
    socket.on('error', () => {})
    socket.write('SSH-2.0-OpenSSH_9.2p1\r\n')
    socket.once('data', () => socket.destroy())
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  return {port: (server.address() as {port: number}).port, server}
}

describe('ssh:// engine endpoints', () => {
  it('an SSH session that ends before the engine answers fails the request as unreachable, without a DEP0170 warning', async () => {
    const {port, server} = await greetAndHangUp()
    const warnings: string[] = []
    const onWarning = (w: Error & {code?: string}) => warnings.push(`${w.code ?? ''} ${w.message}`)
    process.on('warning', onWarning)
    try {
      const adapter = new DockerAdapter(
        {source: 'DOCKER_HOST', url: `ssh://nobody@127.0.0.1:${port}`},
        {machine: fakeMachine(), runDir: '/tmp'},
      )
      let caught: unknown
      try {
        await adapter.inspectContainer('stigmer-agent-runner')
      } catch (error) {
        caught = error
      }

      expect(caught).to.be.instanceOf(RuntimeError)
      expect((caught as RuntimeError).reason).to.equal('unreachable')
      expect((caught as RuntimeError).message).to.contain('SSH')
      await new Promise((resolve) => {
        setImmediate(resolve)
      })
      expect(warnings.filter((w) => w.includes('DEP0170'))).to.deep.equal([])
    } finally {
      process.off('warning', onWarning)
      server.close()
    }
  })
})

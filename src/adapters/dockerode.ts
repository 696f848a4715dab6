import type DockerodeType from 'dockerode'

import Module, {createRequire} from 'node:module'

const require = createRequire(import.meta.url)

/**
 * Puts a stand-in for a module in the require cache that loads the real one on
 * first call. dockerode requires gRPC and protobufjs (BuildKit sessions) and
 * docker-modem requires ssh2 (ssh:// endpoints) at load time: together about a
 * third of `server status`'s wall time here, for features most runs never use.
 */
function deferModule(request: string): void {
  const path = require.resolve(request)
  if (require.cache[path]) return
  const stub = new Module(path)
  stub.filename = path
  stub.loaded = true
  stub.exports = (...args: unknown[]) => {
    delete require.cache[path]
    return (require(path) as (...a: unknown[]) => unknown)(...args)
  }

  require.cache[path] = stub
}

// Both modules export one function, called only when a session / an ssh agent is made.
deferModule('dockerode/lib/session.js')
deferModule('docker-modem/lib/ssh.js')

export const Dockerode = require('dockerode') as typeof DockerodeType

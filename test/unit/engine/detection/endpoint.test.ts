import {expect} from 'chai'

import {endpoint, parseEndpointUrl} from '../../../../src/engine/detection/endpoint.js'
import {StigmerError} from '../../../../src/lib/errors.js'

function usage(url: string, variable?: string): StigmerError {
  try {
    parseEndpointUrl(url, variable)
  } catch (error) {
    expect(error).to.be.instanceOf(StigmerError)
    expect((error as StigmerError).code).to.equal('USAGE')
    expect((error as StigmerError).exit).to.equal(2)
    return error as StigmerError
  }

  throw new Error(`expected "${url}" to be rejected`)
}

describe('parseEndpointUrl', () => {
  it('unix sockets', () => {
    expect(parseEndpointUrl('unix:///var/run/docker.sock')).to.deep.equal({
      protocol: 'unix',
      socketPath: '/var/run/docker.sock',
    })
  })

  it('tcp, with the Docker default port 2375 when none is given', () => {
    expect(parseEndpointUrl('tcp://10.0.0.5:2376')).to.deep.equal({host: '10.0.0.5', port: 2376, protocol: 'tcp'})
    expect(parseEndpointUrl('tcp://docker.example')).to.deep.equal({
      host: 'docker.example',
      port: 2375,
      protocol: 'tcp',
    })
    expect(parseEndpointUrl('tcp://[::1]:2375')).to.deep.include({host: '::1', port: 2375})
    expect(parseEndpointUrl('  tcp://h:1/  ')).to.deep.include({host: 'h', port: 1})
  })

  it('ssh, with user and the default port 22', () => {
    expect(parseEndpointUrl('ssh://core@build.example')).to.deep.equal({
      host: 'build.example',
      port: 22,
      protocol: 'ssh',
      username: 'core',
    })
    expect(parseEndpointUrl('ssh://build.example:2222')).to.deep.equal({
      host: 'build.example',
      port: 2222,
      protocol: 'ssh',
    })
  })

  it('Windows named pipes, in both slash styles', () => {
    expect(parseEndpointUrl('npipe:////./pipe/docker_engine')).to.deep.equal({
      protocol: 'npipe',
      socketPath: '\\\\.\\pipe\\docker_engine',
    })
    expect(parseEndpointUrl('npipe://\\\\.\\pipe\\podman-machine-default').socketPath).to.equal(
      '\\\\.\\pipe\\podman-machine-default',
    )
  })

  it('rejects malformed values with a message naming the variable, the value and why', () => {
    expect(usage('tcp//oops').message).to.equal(
      'DOCKER_HOST="tcp//oops" is not a valid engine endpoint: it has no scheme.',
    )
    expect(usage('', 'CONTAINER_HOST').message).to.contain(
      'CONTAINER_HOST="" is not a valid engine endpoint: it is empty',
    )
    expect(usage('http://h:2375').message).to.contain('unknown scheme "http"')
    expect(usage('unix://var/run/docker.sock').message).to.contain('must be absolute')
    expect(usage('tcp://h:2375/path').message).to.contain('no path')
    expect(usage('tcp://:2375').message).to.match(/host/)
    expect(usage('npipe://docker_engine').message).to.contain('named pipe')
    usage('tcp://h:99999')
  })

  it('every rejection says which forms are accepted and that unsetting the variable works', () => {
    const error = usage('bogus')
    expect(error.suggestions[0])
      .to.contain('unix:///path/to/docker.sock')
      .and.contain('tcp://host:2376')
      .and.contain('ssh://user@host')
    expect(error.suggestions[1]).to.equal('Or unset DOCKER_HOST to let stigmer find the engine.')
  })

  it('endpoint() keeps tls only when given', () => {
    expect(endpoint('unix:///x', 'test')).to.deep.equal({source: 'test', url: 'unix:///x'})
    expect(endpoint('tcp://h:1', 'test', {verify: true})).to.deep.equal({
      source: 'test',
      tls: {verify: true},
      url: 'tcp://h:1',
    })
  })
})

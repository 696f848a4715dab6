import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {requestedRuntime, runtimeFlagFromArgv, selectRuntime} from '../../../src/engine/choose.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {rememberedEngine} from '../../../src/server/state.js'
import {rejectionOf} from '../../helpers/rejection.js'

describe('choosing the runtime', () => {
  let home: string
  const env = (extra: Record<string, string> = {}) => ({STIGMER_HOME: home, ...extra}) as NodeJS.ProcessEnv

  beforeEach(() => {
    // A fresh folder per test: loadConfig caches by path.
    home = mkdtempSync(join(tmpdir(), 'stigmer-runtime-'))
  })

  afterEach(() => {
    rmSync(home, {force: true, recursive: true})
  })

  const writeConfig = (text: string) => writeFileSync(join(home, 'config.yaml'), text)
  const writeState = (runtime: string) => {
    mkdirSync(join(home, 'state'), {recursive: true})
    writeFileSync(join(home, 'state', 'server.json'), JSON.stringify({containerName: 'stigmer-agent-runner', runtime}))
  }

  it('nothing asked for: undefined (auto-detect)', async () => {
    expect(await requestedRuntime({env: env()})).to.equal(undefined)
  })

  it('--runtime wins over everything', async () => {
    writeConfig('runtime: docker\n')
    writeState('docker')
    expect(
      await requestedRuntime({
        env: env({STIGMER_CONTAINER_RUNTIME: 'docker'}),
        flag: 'podman',
        remembered: rememberedEngine,
      }),
    ).to.deep.equal({
      name: 'podman',
      reason: {kind: 'flag'},
    })
  })

  it('then STIGMER_CONTAINER_RUNTIME, then the config file', async () => {
    writeConfig('runtime: docker\n')
    expect(await requestedRuntime({env: env({STIGMER_CONTAINER_RUNTIME: 'podman'})})).to.deep.equal({
      name: 'podman',
      reason: {kind: 'env', variable: 'STIGMER_CONTAINER_RUNTIME'},
    })
    expect(await requestedRuntime({env: env()})).to.deep.equal({
      name: 'docker',
      reason: {file: join(home, 'config.yaml'), kind: 'config'},
    })
  })

  it('the engine of the last server start only for commands that ask for it, and after the config file', async () => {
    writeState('podman')
    expect(await requestedRuntime({env: env()})).to.equal(undefined)
    expect(await requestedRuntime({env: env(), remembered: rememberedEngine})).to.deep.equal({
      name: 'podman',
      reason: {kind: 'remembered', stateFile: join(home, 'state', 'server.json')},
    })
    writeConfig('runtime: docker\n')
    expect((await requestedRuntime({env: env(), remembered: rememberedEngine}))?.name).to.equal('docker')
  })

  it('a state file that names an unknown runtime: exit 2, naming the file and how to clear it', async () => {
    writeState('banana')
    const error = await rejectionOf(selectRuntime({env: env(), remembered: rememberedEngine}), StigmerError)
    expect(error.exit).to.equal(2)
    expect(error.message)
      .to.contain(join(home, 'state', 'server.json'))
      .and.contain('"banana"')
    expect(error.suggestions.join('\n')).to.contain(`rm ${join(home, 'state', 'server.json')}`)
  })

  it('runtimeFlagFromArgv reads --runtime X and --runtime=X, and stops at --', () => {
    expect(runtimeFlagFromArgv(['server', 'start', '--runtime', 'podman'])).to.equal('podman')
    expect(runtimeFlagFromArgv(['--runtime=docker', 'x'])).to.equal('docker')
    expect(runtimeFlagFromArgv(['server', 'start'])).to.equal(undefined)
    expect(runtimeFlagFromArgv(['--', '--runtime', 'podman'])).to.equal(undefined)
  })
})

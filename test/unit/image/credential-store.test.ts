import {expect} from 'chai'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {ContainerRuntime, RegistryCredentials} from '../../../src/engine/types.js'

import {DOCKER_CAPABILITIES} from '../../../src/adapters/capabilities.js'
import {DockerAdapter} from '../../../src/adapters/docker.js'
import {RuntimeError} from '../../../src/engine/errors.js'
import {podmanAuthFile} from '../../../src/engine/registry-auth.js'
import {checkLoginStore, registryLogout} from '../../../src/image/credential-store.js'
import {registryLogin} from '../../../src/image/login.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {fakeMachine} from '../engine/detection/fake-machine.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

async function rejection(fn: () => Promise<unknown> | unknown): Promise<StigmerError> {
  try {
    await fn()
  } catch (error) {
    expect(error).to.be.instanceOf(StigmerError)
    return error as StigmerError
  }

  expect.fail('expected a StigmerError')
}

describe('credential stores (image login / image logout)', () => {
  let dir: string
  let bin: string
  let env: NodeJS.ProcessEnv
  const dockerFile = () => join(dir, 'docker', 'config.json')
  const podmanFile = () => join(dir, 'auth.json')
  const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>

  /** A credential helper that records each call (action and stdin) in calls.log; `erase` of an unknown key says "credentials not found". */
  function fakeHelper(name: string): string {
    const log = join(dir, `${name}.log`)
    const path = join(bin, `docker-credential-${name}`)
    writeFileSync(
      path,
      `#!/bin/sh\ninput=$(cat)\nprintf '%s %s\\n' "$1" "$input" >> '${log}'\nif [ "$1" = erase ] && [ "$input" = nothere ]; then echo 'credentials not found in native keychain'; exit 1; fi\nexit 0\n`,
    )
    chmodSync(path, 0o755)
    return log
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stigmer-creds-'))
    bin = join(dir, 'bin')
    mkdirSync(bin)
    mkdirSync(join(dir, 'docker'))
    env = {DOCKER_CONFIG: join(dir, 'docker'), PATH: bin, REGISTRY_AUTH_FILE: podmanFile()}
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  describe('before a login', () => {
    it('a credsStore helper that is not installed: exit 25 CREDENTIAL_HELPER naming it, not "registry refused" (24)', async () => {
      writeFileSync(dockerFile(), JSON.stringify({credsStore: 'desktop'}))
      const error = await rejection(() => checkLoginStore('docker-config', '127.0.0.1:5000', {env}))
      expect(error).to.deep.include({code: 'CREDENTIAL_HELPER', exit: ExitCode.CREDENTIAL_STORE})
      expect(error.exit).to.equal(25)
      expect(error.message).to.contain('docker-credential-desktop is not on PATH').and.not.contain('refused')
      expect(error.suggestions.join(' ')).to.contain('plain text')
    })

    it('credHelpers for another registry does not matter; for this one it does', async () => {
      writeFileSync(dockerFile(), JSON.stringify({credHelpers: {'gcr.io': 'gcloud'}}))
      checkLoginStore('docker-config', '127.0.0.1:5000', {env})
      const error = await rejection(() => checkLoginStore('docker-config', 'gcr.io', {env}))
      expect(error.code).to.equal('CREDENTIAL_HELPER')
    })

    it('a corrupt config.json or auth.json: exit 25 AUTH_FILE_INVALID naming the file, no "plain HTTP" hint', async () => {
      writeFileSync(dockerFile(), '{"auths": {')
      const docker = await rejection(() => checkLoginStore('docker-config', 'ghcr.io', {env}))
      expect(docker).to.deep.include({code: 'AUTH_FILE_INVALID', exit: 25})
      expect(docker.message).to.contain(dockerFile()).and.contain('not valid JSON')
      expect(docker.suggestions.join(' ')).to.not.match(/plain HTTP|insecure/)
      writeFileSync(podmanFile(), '[1, 2]')
      const podman = await rejection(() => checkLoginStore('containers-auth', 'ghcr.io', {env}))
      expect(podman).to.deep.include({code: 'AUTH_FILE_INVALID', exit: 25})
      expect(podman.message).to.contain('not a JSON object')
    })

    it('registryLogin checks the store before the engine is asked, and maps a helper failure of docker login to 25', async () => {
      writeFileSync(dockerFile(), JSON.stringify({credsStore: 'desktop'}))
      let asked = false
      const runtime = {
        capabilities: DOCKER_CAPABILITIES,
        cli: 'docker',
        displayName: 'Docker',
        async login() {
          asked = true
        },
        name: 'docker',
      } as unknown as ContainerRuntime
      const creds = {password: 'pw-never-shown', registry: '127.0.0.1:5000', username: 'u'}
      const early = await rejection(() => registryLogin(runtime, creds, {env}))
      expect(early.exit).to.equal(25)
      expect(asked).to.equal(false)

      rmSync(dockerFile())
      const failing = {
        ...runtime,
        async login() {
          throw new RuntimeError(
            'engine',
            'docker login 127.0.0.1:5000 failed: Error saving credentials: error storing credentials - err: exec: "docker-credential-desktop": executable file not found in $PATH',
          )
        },
      } as unknown as ContainerRuntime
      const late = await rejection(() => registryLogin(failing, creds, {env}))
      expect(late).to.deep.include({code: 'CREDENTIAL_HELPER', exit: 25})
      expect(JSON.stringify(late.toJSON())).to.not.contain('pw-never-shown')
    })
  })

  describe('Docker without a docker CLI (stigmer writes the store itself)', () => {
    class Exposed extends DockerAdapter {
      async store(credentials: RegistryCredentials): Promise<void> {
        await this.storeCredentials(credentials)
      }
    }

    const adapter = () =>
      new Exposed({source: 'test', url: 'unix:///nonexistent'}, {machine: fakeMachine({env}), runDir: dir})
    const creds = {password: 's3cret-pw', registry: '127.0.0.1:5000', username: 'ci'}

    it('with credsStore set, the helper keeps the credential and config.json gets no plaintext auths', async () => {
      const log = fakeHelper('vault')
      writeFileSync(dockerFile(), JSON.stringify({credsStore: 'vault'}))
      await adapter().store(creds)
      expect(readFileSync(log, 'utf8')).to.contain(
        'store {"Secret":"s3cret-pw","ServerURL":"127.0.0.1:5000","Username":"ci"}',
      )
      expect(readFileSync(dockerFile(), 'utf8')).to.not.contain(b64('ci:s3cret-pw')).and.not.contain('auths')
    })

    it('with credsStore naming a missing helper, nothing is written', async () => {
      writeFileSync(dockerFile(), JSON.stringify({credsStore: 'desktop'}))
      let caught: unknown
      try {
        await adapter().store(creds)
      } catch (error) {
        caught = error
      }

      expect((caught as Error).name).to.equal('CredentialStoreError')
      expect(readFileSync(dockerFile(), 'utf8')).to.equal(JSON.stringify({credsStore: 'desktop'}))
    })

    it('without a helper, config.json auths as docker login writes them (mode 0600), other keys kept', async () => {
      writeFileSync(dockerFile(), JSON.stringify({detachKeys: 'ctrl-x'}))
      await adapter().store(creds)
      expect(json(dockerFile())).to.deep.equal({
        auths: {'127.0.0.1:5000': {auth: b64('ci:s3cret-pw')}},
        detachKeys: 'ctrl-x',
      })
      // eslint-disable-next-line no-bitwise
      expect((await import('node:fs')).statSync(dockerFile()).mode & 0o777).to.equal(0o600)
    })

    it('a corrupt config.json is never overwritten', async () => {
      writeFileSync(dockerFile(), 'not json')
      let caught: unknown
      try {
        await adapter().store(creds)
      } catch (error) {
        caught = error
      }

      expect((caught as Error).name).to.equal('CredentialStoreError')
      expect(readFileSync(dockerFile(), 'utf8')).to.equal('not json')
    })
  })

  describe('registryLogout', () => {
    it("removes every spelling of the registry from Docker's and Podman's files, keeping the rest", async () => {
      writeFileSync(
        dockerFile(),
        JSON.stringify({
          auths: {'127.0.0.1:5000': {auth: 'x'}, 'ghcr.io': {auth: 'y'}, 'https://127.0.0.1:5000': {auth: 'x'}},
          psFormat: 'table',
        }),
      )
      writeFileSync(podmanFile(), JSON.stringify({auths: {'127.0.0.1:5000': {auth: 'x'}}}))
      const result = await registryLogout('127.0.0.1:5000', ['docker', 'podman'], {env})
      expect(result.removed).to.equal(true)
      expect(result.stores.map((s) => [s.engine, s.removed, s.from])).to.deep.equal([
        ['docker', true, ['file']],
        ['podman', true, ['file']],
      ])
      expect(json(dockerFile())).to.deep.equal({auths: {'ghcr.io': {auth: 'y'}}, psFormat: 'table'})
      expect(json(podmanFile())).to.deep.equal({auths: {}})
    })

    it('nothing stored: removed false, no file created', async () => {
      const result = await registryLogout('ghcr.io', ['docker', 'podman'], {env})
      expect(result.removed).to.equal(false)
      expect(existsSync(dockerFile())).to.equal(false)
      expect(existsSync(podmanFile())).to.equal(false)
    })

    it('erases through the helper the file names (the registry on stdin); "not found" is not an error', async () => {
      const log = fakeHelper('vault')
      writeFileSync(dockerFile(), JSON.stringify({credsStore: 'vault'}))
      const result = await registryLogout('127.0.0.1:5000', ['docker'], {env})
      expect(result.stores[0]!.from).to.deep.equal(['helper vault'])
      expect(readFileSync(log, 'utf8')).to.equal('erase 127.0.0.1:5000\n')
      const none = await registryLogout('nothere', ['docker'], {env})
      expect(none.removed).to.equal(false)
    })

    it("a broken store stops the command before the other engine's store is changed", async () => {
      writeFileSync(dockerFile(), JSON.stringify({auths: {'ghcr.io': {auth: 'y'}}}))
      writeFileSync(podmanFile(), '{broken')
      const error = await rejection(() => registryLogout('ghcr.io', ['docker', 'podman'], {env}))
      expect(error).to.deep.include({code: 'AUTH_FILE_INVALID', exit: 25})
      expect(json(dockerFile())).to.deep.equal({auths: {'ghcr.io': {auth: 'y'}}})
      writeFileSync(podmanFile(), JSON.stringify({credHelpers: {'ghcr.io': 'gone'}}))
      const helper = await rejection(() => registryLogout('ghcr.io', ['podman'], {env}))
      expect(helper).to.deep.include({code: 'CREDENTIAL_HELPER', exit: 25})
    })
  })

  it("podmanAuthFile: the file podman login writes (containers/image's default)", () => {
    expect(podmanAuthFile({REGISTRY_AUTH_FILE: '/x/auth.json'}, 'linux', 1000)).to.equal('/x/auth.json')
    expect(podmanAuthFile({XDG_RUNTIME_DIR: '/run/user/1000'}, 'linux', 1000)).to.equal(
      '/run/user/1000/containers/auth.json',
    )
    expect(podmanAuthFile({}, 'linux', 0)).to.equal('/run/containers/0/auth.json')
    expect(podmanAuthFile({XDG_CONFIG_HOME: '/Users/ann/.config'}, 'darwin', 501)).to.equal(
      '/Users/ann/.config/containers/auth.json',
    )
  })
})

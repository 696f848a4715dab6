import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadConfig, validateConfig} from '../../../src/lib/config.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'

const FILE = '/home/ann/.stigmer/config.yaml'

function invalid(doc: unknown, mentions: RegExp | string): StigmerError {
  let caught: unknown
  try {
    validateConfig(doc, FILE)
  } catch (error) {
    caught = error
  }

  expect(caught, `expected ${JSON.stringify(doc)} to be rejected`).to.be.instanceOf(StigmerError)
  const error = caught as StigmerError
  expect(error.code).to.equal('CONFIG')
  expect(error.exit).to.equal(ExitCode.CONFIG)
  expect(error.message).to.contain(`The config file ${FILE} is invalid`)
  if (typeof mentions === 'string') expect(error.message).to.contain(mentions)
  else expect(error.message).to.match(mentions)
  return error
}

describe('config file', () => {
  describe('validateConfig', () => {
    it('an empty file is an empty config', () => {
      expect(validateConfig(null, FILE)).to.deep.equal({})
      expect(validateConfig(undefined, FILE)).to.deep.equal({})
    })

    it('accepts every documented key', () => {
      const doc = {
        env: {STIGMER_LLM_MODEL: 'qwen', TEMPORAL_SERVICE_ADDRESS: 'localhost:7233'},
        image: 'localhost/stigmer/agent-runner:dev',
        network: 'bridge',
        pull: 'never',
        pullTimeoutSeconds: 600,
        repository: 'ghcr.io/me/runner',
        runtime: 'podman',
        startTimeoutSeconds: 90,
        workspace: '/srv/ws',
      }
      expect(validateConfig(doc, FILE)).to.deep.equal(doc)
    })

    it('null values are left out (as if the key were absent)', () => {
      expect(validateConfig({image: null, runtime: 'docker'}, FILE)).to.deep.equal({runtime: 'docker'})
    })

    it('env values that YAML parsed as numbers or booleans become strings', () => {
      expect(validateConfig({env: {DEBUG: true, PORT: 8080}}, FILE)).to.deep.equal({env: {DEBUG: 'true', PORT: '8080'}})
    })

    it('rejects a non-mapping top level', () => {
      invalid(['runtime'], 'the top level must be a mapping')
      invalid('docker', 'the top level must be a mapping')
    })

    it('rejects an unknown key, naming it and listing the known ones', () => {
      const error = invalid({runtme: 'docker'}, 'unknown key "runtme"')
      expect(error.message).to.contain('known: env, image, network, pull')
      expect(error.suggestions[0]).to.contain(FILE)
    })

    it('rejects values of the wrong kind, naming the key', () => {
      invalid({runtime: ''}, '"runtime" must be a non-empty string')
      invalid({image: 42}, '"image" must be a non-empty string')
      invalid({pullTimeoutSeconds: '600'}, '"pullTimeoutSeconds" must be a positive number')
      invalid({startTimeoutSeconds: 0}, '"startTimeoutSeconds" must be a positive number')
      invalid({network: 'overlay'}, '"network" must be one of host, bridge (got "overlay")')
      invalid({pull: 'sometimes'}, /"pull" must be one of missing, always, never/)
      invalid({env: ['A=1']}, '"env" must be a mapping')
      invalid({env: {'1BAD': 'x'}}, '"env.1BAD" is not a valid environment variable name')
      invalid({env: {NESTED: {a: 1}}}, '"env.NESTED" must be a string')
    })
  })

  describe('keys Object.prototype already has', () => {
    it('constructor, __proto__, toString are unknown keys (exit 50), not a crash', async () => {
      const {parse} = await import('yaml')
      for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        invalid(parse(`${key}: docker\n`), `unknown key "${key}"`)
      }
    })

    it('an env variable named like a prototype member is an ordinary variable', async () => {
      const {parse} = await import('yaml')
      const config = validateConfig(parse('env:\n  constructor: a\n  __proto__: b\n'), FILE)
      expect(Object.getPrototypeOf(config.env)).to.equal(Object.prototype)
      expect(Object.keys(config.env!)).to.deep.equal(['constructor', '__proto__'])
    })
  })

  describe('loadConfig', () => {
    let dir: string

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'stigmer-config-'))
    })

    afterEach(() => {
      rmSync(dir, {force: true, recursive: true})
    })

    it('a missing file is an empty config', async () => {
      expect(await loadConfig(join(dir, 'config.yaml'))).to.deep.equal({})
    })

    it('reads YAML', async () => {
      const file = join(dir, 'config.yaml')
      writeFileSync(file, 'runtime: podman\nenv:\n  STIGMER_LLM_MODEL: qwen\n')
      expect(await loadConfig(file)).to.deep.equal({env: {STIGMER_LLM_MODEL: 'qwen'}, runtime: 'podman'})
    })

    it('invalid YAML is a CONFIG error (exit 50) naming the file', async () => {
      const file = join(dir, 'broken.yaml')
      writeFileSync(file, 'runtime: [unclosed\n')
      let caught: unknown
      try {
        await loadConfig(file)
      } catch (error) {
        caught = error
      }

      expect(caught).to.be.instanceOf(StigmerError)
      expect((caught as StigmerError).exit).to.equal(50)
      expect((caught as StigmerError).message)
        .to.contain(file)
        .and.contain('not valid YAML')
    })

    it('a file over 1 MiB is refused (exit 50) before it is parsed', async () => {
      const file = join(dir, 'huge.yaml')
      writeFileSync(file, `env:\n${'  A: x\n'.repeat(200_000)}`)
      const started = Date.now()
      let caught: unknown
      try {
        await loadConfig(file)
      } catch (error) {
        caught = error
      }

      expect((caught as StigmerError).exit).to.equal(ExitCode.CONFIG)
      expect((caught as StigmerError).message)
        .to.contain(file)
        .and.contain('at most 1048576 bytes')
      expect(Date.now() - started).to.be.below(1000)
    })
  })
})

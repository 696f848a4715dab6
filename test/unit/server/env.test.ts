import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {buildContainerEnv, CONTAINER_ENV, type EnvInputs, maskEnv, parseEnvFlags} from '../../../src/server/env.js'

const NONE: EnvInputs = {configEnv: {}, extra: {}, flags: {}, hostEnv: {}}

const DEFAULTS = {
  LOG_LEVEL: 'INFO',
  MODE: 'local',
  SANDBOX_ROOT_DIR: '/workspace',
  SANDBOX_TYPE: 'filesystem',
  STIGMER_BACKEND_ENDPOINT: 'localhost:7234',
  TEMPORAL_AGENT_EXECUTION_RUNNER_TASK_QUEUE: 'agent_execution_runner',
  TEMPORAL_NAMESPACE: 'default',
  TEMPORAL_SERVICE_ADDRESS: 'localhost:7233',
}

describe('container-env', () => {
  describe('CONTAINER_ENV, the one list', () => {
    it('names each variable once', () => {
      const names = CONTAINER_ENV.map((v) => v.name)
      expect(new Set(names).size).to.equal(names.length)
    })

    it('is exactly what the agent-runner reads (the fixture runner mirrors the real one)', () => {
      const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
      const source = readFileSync(
        join(root, 'test', 'fixtures', 'agent-runner', 'src', 'agent_runner', '__main__.py'),
        'utf8',
      )
      const tuple = /^ENV_VARS = \(([^)]*)\)/m.exec(source)
      expect(tuple, 'ENV_VARS in the fixture').to.not.equal(null)
      const read = [...tuple![1]!.matchAll(/"(\w+)"/g)].map((m) => m[1])
      expect(CONTAINER_ENV.map((v) => v.name).sort()).to.deep.equal(read.sort())
    })

    it('holds no stale names of the old Go CLI', () => {
      const names = CONTAINER_ENV.map((v) => v.name)
      for (const old of ['STIGMER_BACKEND_URL', 'WORKSPACE_ROOT']) expect(names).to.not.include(old)
    })
  })

  describe('buildContainerEnv', () => {
    it('with nothing set: the fixed values and the defaults, no LLM settings and no keys', () => {
      const {env, rewritten, sources} = buildContainerEnv(NONE)
      expect(env).to.deep.equal(DEFAULTS)
      expect(rewritten).to.deep.equal({})
      expect(sources).to.include({MODE: 'fixed', TEMPORAL_NAMESPACE: 'default', TEMPORAL_SERVICE_ADDRESS: 'default'})
    })

    it('flag > host environment > config file > default, each step on its own variable', () => {
      const {env, sources} = buildContainerEnv({
        configEnv: {LOG_LEVEL: 'DEBUG', STIGMER_LLM_MODEL: 'cfg-model', TEMPORAL_NAMESPACE: 'cfg-ns'},
        extra: {},
        flags: {TEMPORAL_NAMESPACE: 'flag-ns'},
        hostEnv: {STIGMER_LLM_MODEL: 'host-model', TEMPORAL_NAMESPACE: 'host-ns'},
      })
      expect(env).to.include({
        LOG_LEVEL: 'DEBUG',
        STIGMER_LLM_MODEL: 'host-model',
        TEMPORAL_NAMESPACE: 'flag-ns',
        TEMPORAL_SERVICE_ADDRESS: 'localhost:7233',
      })
      expect(sources).to.include({
        LOG_LEVEL: 'config file',
        STIGMER_LLM_MODEL: 'host environment',
        TEMPORAL_NAMESPACE: '--temporal-namespace',
        TEMPORAL_SERVICE_ADDRESS: 'default',
      })
    })

    it('an empty value falls through to the next source', () => {
      const {env} = buildContainerEnv({
        ...NONE,
        configEnv: {TEMPORAL_NAMESPACE: 'cfg-ns'},
        flags: {TEMPORAL_NAMESPACE: ''},
        hostEnv: {TEMPORAL_NAMESPACE: ''},
      })
      expect(env.TEMPORAL_NAMESPACE).to.equal('cfg-ns')
    })

    it('the container-mode contract (MODE, SANDBOX_*) cannot be overridden, not even with --env', () => {
      const {env} = buildContainerEnv({
        configEnv: {MODE: 'cloud'},
        extra: {SANDBOX_ROOT_DIR: '/elsewhere', SANDBOX_TYPE: 'docker'},
        flags: {MODE: 'x'},
        hostEnv: {MODE: 'remote', SANDBOX_ROOT_DIR: '/tmp'},
      })
      expect(env).to.include({MODE: 'local', SANDBOX_ROOT_DIR: '/workspace', SANDBOX_TYPE: 'filesystem'})
    })

    it('API keys are passed only when set, and then as given', () => {
      expect(Object.keys(buildContainerEnv(NONE).env)).to.not.include.members([
        'ANTHROPIC_API_KEY',
        'OPENAI_API_KEY',
        'STIGMER_LLM_API_KEY',
      ])
      const {env, sources} = buildContainerEnv({
        ...NONE,
        configEnv: {OPENAI_API_KEY: 'cfg-key'},
        hostEnv: {ANTHROPIC_API_KEY: 'sk-ant-1'},
      })
      expect(env).to.include({ANTHROPIC_API_KEY: 'sk-ant-1', OPENAI_API_KEY: 'cfg-key'})
      expect(env).to.not.have.property('STIGMER_LLM_API_KEY')
      expect(sources).to.include({ANTHROPIC_API_KEY: 'host environment', OPENAI_API_KEY: 'config file'})
    })

    it('STIGMER_LLM_BASE_URL and OLLAMA_BASE_URL always carry the same value', () => {
      expect(buildContainerEnv({...NONE, hostEnv: {OLLAMA_BASE_URL: 'http://localhost:11434'}}).env).to.include({
        OLLAMA_BASE_URL: 'http://localhost:11434',
        STIGMER_LLM_BASE_URL: 'http://localhost:11434',
      })
      expect(
        buildContainerEnv({
          ...NONE,
          flags: {STIGMER_LLM_BASE_URL: 'http://gpu:11434'},
          hostEnv: {OLLAMA_BASE_URL: 'http://localhost:11434'},
        }).env,
      ).to.include({OLLAMA_BASE_URL: 'http://gpu:11434', STIGMER_LLM_BASE_URL: 'http://gpu:11434'})
      const neither = buildContainerEnv(NONE).env
      expect(neither).to.not.have.property('OLLAMA_BASE_URL')
      expect(neither).to.not.have.property('STIGMER_LLM_BASE_URL')
    })

    it('--env adds variables and wins over flags and the environment', () => {
      const {env, sources} = buildContainerEnv({
        ...NONE,
        extra: {FOO: 'bar', LOG_LEVEL: 'WARNING'},
        flags: {LOG_LEVEL: 'DEBUG'},
      })
      expect(env).to.include({FOO: 'bar', LOG_LEVEL: 'WARNING'})
      expect(sources).to.include({FOO: '--env', LOG_LEVEL: '--env'})
    })

    it('bridge networking: host addresses are rewritten to the gateway name, others are not', () => {
      const {env, rewritten} = buildContainerEnv({
        ...NONE,
        flags: {STIGMER_LLM_BASE_URL: 'http://localhost:11434'},
        gatewayName: 'host.docker.internal',
        hostEnv: {STIGMER_BACKEND_ENDPOINT: 'api.stigmer.example:443', TEMPORAL_NAMESPACE: 'localhost'},
      })
      expect(env).to.include({
        OLLAMA_BASE_URL: 'http://host.docker.internal:11434',
        STIGMER_BACKEND_ENDPOINT: 'api.stigmer.example:443',
        STIGMER_LLM_BASE_URL: 'http://host.docker.internal:11434',
        TEMPORAL_NAMESPACE: 'localhost',
        TEMPORAL_SERVICE_ADDRESS: 'host.docker.internal:7233',
      })
      expect(rewritten).to.deep.equal({
        OLLAMA_BASE_URL: 'http://localhost:11434',
        STIGMER_LLM_BASE_URL: 'http://localhost:11434',
        TEMPORAL_SERVICE_ADDRESS: 'localhost:7233',
      })
    })

    it('host networking: nothing is rewritten', () => {
      const {env, rewritten} = buildContainerEnv({...NONE, hostEnv: {TEMPORAL_SERVICE_ADDRESS: '127.0.0.1:7233'}})
      expect(env.TEMPORAL_SERVICE_ADDRESS).to.equal('127.0.0.1:7233')
      expect(rewritten).to.deep.equal({})
    })
  })

  describe('maskEnv', () => {
    it('masks secret values (not empty ones) and keeps the rest', () => {
      expect(
        maskEnv({
          ANTHROPIC_API_KEY: 'sk-ant-1',
          EMPTY_TOKEN: '',
          MODE: 'local',
          OPENAI_API_KEY: 'sk-2',
          STIGMER_LLM_API_KEY: 'k',
        }),
      ).to.deep.equal({
        ANTHROPIC_API_KEY: '****',
        EMPTY_TOKEN: '',
        MODE: 'local',
        OPENAI_API_KEY: '****',
        STIGMER_LLM_API_KEY: '****',
      })
    })

    it('server status: passphrases by the wider name rule, and URL passwords in any variable', () => {
      expect(
        maskEnv({
          DATABASE_URL: 'postgres://u:pw@db:5432/app',
          MY_PASSPHRASE: 'open sesame',
          PROXY: 'http://proxy:3128',
        }),
      ).to.deep.equal({
        DATABASE_URL: 'postgres://u:****@db:5432/app',
        MY_PASSPHRASE: '****',
        PROXY: 'http://proxy:3128',
      })
    })
  })

  describe('parseEnvFlags', () => {
    it('KEY=VALUE, with "=" and empty values kept as given', () => {
      expect(parseEnvFlags(['A=1', 'B=x=y', 'C='], {})).to.deep.equal({bad: [], env: {A: '1', B: 'x=y', C: ''}})
    })

    it("KEY alone passes the host's value (how secrets stay off the command line), or nothing when unset", () => {
      expect(parseEnvFlags(['OPENAI_API_KEY', 'NOT_SET'], {OPENAI_API_KEY: 'sk-1'})).to.deep.equal({
        bad: [],
        env: {OPENAI_API_KEY: 'sk-1'},
      })
    })

    it('reports bad names without echoing their values', () => {
      const result = parseEnvFlags(['1BAD=secret-value', 'with space', 'OK=1', '=x'], {})
      expect(result.env).to.deep.equal({OK: '1'})
      expect(result.bad).to.deep.equal(['1BAD=...', 'with space', '=...'])
      expect(result.bad.join(' ')).to.not.include('secret-value')
    })

    it('a later flag for the same name wins', () => {
      expect(parseEnvFlags(['A=1', 'A=2'], {}).env).to.deep.equal({A: '2'})
    })
  })
})

import {expect} from 'chai'

import {secretsInArgv} from '../../../src/lib/debug-filter.js'
import {addSecret, addSecretsFromEnv, isSecretName, maskValue, redact, redactJson} from '../../../src/lib/redact.js'

describe('redaction', () => {
  it('isSecretName: names that say they hold a secret', () => {
    for (const name of [
      'OPENAI_API_KEY',
      'ANTHROPIC_APIKEY',
      'API_KEY',
      'GITHUB_TOKEN',
      'STIGMER_AUTH_TOKEN',
      'DB_PASSWORD',
      'REGISTRY_PASSWD',
      'AWS_SECRET_ACCESS_KEY',
      'GOOGLE_APPLICATION_CREDENTIALS',
      'SSH_PRIVATE_KEY',
      'BASIC_AUTH',
      'token',
    ]) {
      expect(isSecretName(name), name).to.equal(true)
    }
  })

  it('isSecretName: ordinary names, including ones that merely contain a secret word', () => {
    for (const name of [
      'PATH',
      'HOME',
      'STIGMER_LLM_MODEL',
      'TEMPORAL_SERVICE_ADDRESS',
      'TOKENIZER',
      'AUTHOR',
      'MAX_TOKENS',
      'KEYBOARD',
    ]) {
      expect(isSecretName(name), name).to.equal(false)
    }
  })

  it('maskValue hides secret values and keeps the others', () => {
    expect(maskValue('OPENAI_API_KEY', 'sk-123456')).to.equal('****')
    expect(maskValue('OPENAI_API_KEY', '')).to.equal('')
    expect(maskValue('STIGMER_LLM_MODEL', 'qwen')).to.equal('qwen')
  })

  it('redact replaces every occurrence of a registered secret', () => {
    const secret = `s3cr3t-${Date.now()}`
    addSecret(secret)
    expect(redact(`login with ${secret} failed; ${secret} again`)).to.equal('login with **** failed; **** again')
  })

  it('values of secret-named variables are registered; others and very short values are not', () => {
    const token = `tok-${Date.now()}-abc`
    addSecretsFromEnv({GITHUB_TOKEN: token, HOME: '/home/ann-unique-path', SHORT_TOKEN: 'ab'})
    expect(redact(`token=${token}`)).to.equal('token=****')
    expect(redact('/home/ann-unique-path')).to.equal('/home/ann-unique-path')
    expect(redact('ab')).to.equal('ab')
  })

  describe('the wider rules', () => {
    it('isSecretName: passphrases, short forms and words glued to a prefix', () => {
      for (const name of [
        'MY_PASSPHRASE',
        'DB_PASS',
        'GITHUB_PAT',
        'DBPASSWORD',
        'GHTOKEN',
        'SENTRY_DSN',
        'AWS_ACCESS_KEY_ID',
      ]) {
        expect(isSecretName(name), name).to.equal(true)
      }

      for (const name of ['PASSENGER', 'PATH', 'PATTERN', 'MAX_TOKENS', 'TOKENIZER', 'AUTHOR', 'KEYBOARD']) {
        expect(isSecretName(name), name).to.equal(false)
      }
    })

    it('URL passwords are masked in any value and any text; the user and host stay', () => {
      expect(maskValue('DATABASE_URL', 'postgres://u:pw-123@db:5432/x')).to.equal('postgres://u:****@db:5432/x')
      expect(maskValue('HOMEPAGE', 'https://example.com/a:b@c')).to.equal('https://example.com/a:b@c')
      expect(redact('connecting to redis://:hunter2@cache:6379/0 now')).to.equal(
        'connecting to redis://:****@cache:6379/0 now',
      )
    })

    it('NAME=value in text is masked when NAME is a secret name', () => {
      expect(redact('--build-arg API_TOKEN=abc123 --build-arg MODE=dev')).to.equal(
        '--build-arg API_TOKEN=**** --build-arg MODE=dev',
      )
    })

    it('debug dumps: secret-named fields in JSON and util.inspect form (X-Registry-Auth, password)', () => {
      expect(redact("headers: { 'X-Registry-Auth': 'eyJ1c2VybmFtZSI6InUifQ==', 'Content-Type': 'x' }")).to.equal(
        "headers: { 'X-Registry-Auth': '****', 'Content-Type': 'x' }",
      )
      expect(redact('{"username":"u","password":"p@ss:w"}')).to.equal('{"username":"u","password":"****"}')
      expect(redact("authconfig: { password: 'it\\'s' }")).to.equal("authconfig: { password: '****' }")
    })

    it('password flags on the command line are secrets (DEBUG prints argv)', () => {
      expect(secretsInArgv(['login', '-u', 'me', '--password', 'pw1', '--token=t2', '--password-stdin'])).to.deep.equal(
        ['pw1', 't2'],
      )
    })

    it('redactJson: strings redacted, values of secret-named keys masked, shape kept', () => {
      const registered = `reg-${Date.now()}-secret`
      addSecret(registered)
      const out = redactJson({
        buildArgs: {API_TOKEN: 'tok-1', GITHUB_PAT: 'ghp_x', VERSION: '1.0'},
        lines: [{text: `saw ${registered}`}],
        n: 3,
        ok: true,
        url: 'https://u:p4ss@r.example/v2',
      })
      expect(out).to.deep.equal({
        buildArgs: {API_TOKEN: '****', GITHUB_PAT: '****', VERSION: '1.0'},
        lines: [{text: 'saw ****'}],
        n: 3,
        ok: true,
        url: 'https://u:****@r.example/v2',
      })
    })
  })
})

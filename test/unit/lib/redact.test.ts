import {expect} from 'chai'

import {addSecret, addSecretsFromEnv, isSecretName, maskValue, redact} from '../../../src/lib/redact.js'

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
})

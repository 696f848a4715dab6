import {expect} from 'chai'

import {classifyErrorText, isAuthFailure, isLocalStoreFailure} from '../../../src/engine/errors.js'

describe('engine and registry error text, read once', () => {
  it('a refused or missing login', () => {
    for (const text of [
      'unauthorized: authentication required',
      'Get "http://127.0.0.1:5000/v2/": unauthorized',
      'unauthorized: incorrect username or password',
      'denied: requested access to the resource is denied',
      'invalid username/password',
      'received unexpected HTTP status: 401 Unauthorized',
    ])
      expect(isAuthFailure(text), text).to.equal(true)
    expect(isAuthFailure('no space left on device')).to.equal(false)
    expect(isAuthFailure('invalid reference format')).to.equal(false)
  })

  it('a credential store that could not keep the login is not the registry refusing it', () => {
    expect(
      isLocalStoreFailure(
        'Error saving credentials: error storing credentials - err: exec: "docker-credential-desktop": executable file not found in $PATH',
      ),
    ).to.equal(true)
    expect(isLocalStoreFailure('error loading config file: invalid character')).to.equal(true)
    expect(isLocalStoreFailure('unauthorized: authentication required')).to.equal(false)
  })

  it('a missing image wins over "denied" in "pull access denied"; a plain refusal is auth', () => {
    expect(classifyErrorText('pull access denied for nope, repository does not exist')).to.equal('not-found')
    expect(classifyErrorText('manifest unknown')).to.equal('not-found')
    expect(classifyErrorText('unauthorized: authentication required')).to.equal('auth')
    expect(classifyErrorText('write /var/lib/docker/tmp: no space left on device')).to.equal(undefined)
  })
})

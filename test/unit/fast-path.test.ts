import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {type ManifestFlag, parseDeclaredFlags} from '../../src/fast-path.js'
import {REPO_ROOT} from '../helpers/lab.js'

const flags: Record<string, ManifestFlag> = {
  json: {name: 'json', type: 'boolean'},
  runtime: {name: 'runtime', type: 'option'},
}

describe("fast-path: parsing a command's flags from oclif's manifest", () => {
  it('reads what oclif reads: --flag value, --flag=value, booleans, in any order', () => {
    expect(parseDeclaredFlags(flags, [])).to.deep.equal({})
    expect(parseDeclaredFlags(flags, ['--runtime', 'podman'])).to.deep.equal({runtime: 'podman'})
    expect(parseDeclaredFlags(flags, ['--json', '--runtime=docker'])).to.deep.equal({json: true, runtime: 'docker'})
  })

  it('leaves to oclif what it would report or render: unknown flags, arguments, help, a missing or flag-like value', () => {
    for (const argv of [
      ['--bogus'],
      ['now'],
      ['--help'],
      ['-h'],
      ['--runtime'],
      ['--runtime', '--json'],
      ['--runtime', 'docker', '--runtime', 'podman'],
      ['--json=yes'],
      ['--', '--json'],
    ])
      expect(parseDeclaredFlags(flags, argv), argv.join(' ')).to.equal(undefined)
  })

  it('leaves to oclif any command with a flag it does not handle exactly as oclif would', () => {
    for (const extra of [
      {options: ['a', 'b']},
      {env: 'STIGMER_X'},
      {default: 'x'},
      {required: true},
      {multiple: true},
      {exclusive: ['json']},
      {dependsOn: ['json']},
      {aliases: ['rt']},
    ] as Array<Partial<ManifestFlag>>)
      expect(
        parseDeclaredFlags({...flags, other: {name: 'other', type: 'option', ...extra}}, []),
        JSON.stringify(extra),
      ).to.equal(undefined)
    expect(parseDeclaredFlags({...flags, yes: {allowNo: true, name: 'yes', type: 'boolean'}}, [])).to.equal(undefined)
  })

  it("server status's flags in the built manifest are ones it reads (or the fast path would be off)", function () {
    const file = join(REPO_ROOT, 'oclif.manifest.json')
    let manifest: {commands: Record<string, {flags: Record<string, ManifestFlag>}>}
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      this.skip() // not built: the smoke tests build and check the fast path end to end
    }

    const status = manifest.commands['server:status']!.flags
    expect(Object.keys(status).sort()).to.deep.equal(['json', 'runtime'])
    expect(parseDeclaredFlags(status, ['--json', '--runtime', 'docker'])).to.deep.equal({
      json: true,
      runtime: 'docker',
    })
  })
})

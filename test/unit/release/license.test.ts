import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {REPO_ROOT} from './helpers.js'

/** sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the text GitHub and npm recognise. */
const APACHE_2_0_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30'

/** The files `npm pack` would put in a package (no scripts run: just the file list). */
function packedFiles(dir: string): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], {cwd: dir, encoding: 'utf8'})
  expect(r.status, r.stderr).to.equal(0)
  return (JSON.parse(r.stdout) as Array<{files: Array<{path: string}>}>)[0]!.files.map((f) => f.path)
}

describe('release: LICENSE (Apache-2.0)', function () {
  this.timeout(60_000)

  for (const dir of ['.', 'plugins/temporal']) {
    it(`${dir}: the Apache License 2.0, as package.json says, in what npm packs`, () => {
      const root = join(REPO_ROOT, dir)
      const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {files: string[]; license: string}
      expect(pjson.license).to.equal('Apache-2.0')
      expect(
        createHash('sha256')
          .update(readFileSync(join(root, 'LICENSE')))
          .digest('hex'),
      ).to.equal(APACHE_2_0_SHA256)
      expect(pjson.files).to.include('/LICENSE')
      expect(packedFiles(root)).to.include('LICENSE')
    })
  }

  it('scripts/pack.sh stages it for the tarballs (it ships what git tracks at the root)', () => {
    const text = readFileSync(join(REPO_ROOT, 'scripts', 'pack.sh'), 'utf8')
    expect(text).to.match(/git ls-files/)
    expect(text).not.to.match(/':!:LICENSE'/)
  })
})

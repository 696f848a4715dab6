import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {EXIT_CODE_DESCRIPTIONS, ExitCode, type ExitCodeName} from '../../../src/lib/exit-codes.js'

const DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'exit-codes.md')

/** The rows of the table in docs/exit-codes.md: | 10 | `NO_RUNTIME` | text | */
function documentedRows(): Array<{code: number; description: string; name: string}> {
  const rows: Array<{code: number; description: string; name: string}> = []
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const match = /^\|\s*(\d+)\s*\|\s*`([A-Z_]+)`\s*\|\s*(.*?)\s*\|\s*$/.exec(line)
    if (match) rows.push({code: Number(match[1]), description: match[3]!.replaceAll('\\|', '|'), name: match[2]!})
  }

  return rows
}

describe('exit codes', () => {
  it('are unique, and fit in a process exit status', () => {
    const codes = Object.values(ExitCode)
    expect(new Set(codes).size).to.equal(codes.length)
    for (const code of codes) expect(code).to.be.within(0, 255)
  })

  it('each has a description', () => {
    expect(Object.keys(EXIT_CODE_DESCRIPTIONS).sort()).to.deep.equal(Object.keys(ExitCode).sort())
    for (const text of Object.values(EXIT_CODE_DESCRIPTIONS)) expect(text.trim()).to.not.equal('')
  })

  it('docs/exit-codes.md lists every code with its number and name, and nothing else', () => {
    const documented = documentedRows().map((r) => `${r.code} ${r.name}`)
    const actual = Object.entries(ExitCode).map(([name, code]) => `${code} ${name}`)
    expect(documented).to.deep.equal(actual)
  })

  it('docs/exit-codes.md describes each code as src/lib/exit-codes.ts does', () => {
    for (const row of documentedRows()) {
      expect(row.description, `row ${row.code}`).to.equal(EXIT_CODE_DESCRIPTIONS[row.name as ExitCodeName])
    }
  })

  it('the engine-detection codes are the documented 10, 11, 12 and usage is 2', () => {
    expect([
      ExitCode.USAGE,
      ExitCode.NO_RUNTIME,
      ExitCode.RUNTIME_UNREACHABLE,
      ExitCode.RUNTIME_PERMISSION,
    ]).to.deep.equal([2, 10, 11, 12])
  })
})

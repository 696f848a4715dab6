import {Config} from '@oclif/core/config'
import {expect} from 'chai'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

import {StigmerCommandHelp} from '../../../src/help.js'
import {COMMAND_EXIT_CODES, ExitCode, exitCodesCell} from '../../../src/lib/exit-codes.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const COMMANDS = join(ROOT, 'src', 'commands')
const DOC = join(ROOT, 'docs', 'exit-codes.md')

type CommandClass = Record<string, unknown> & {
  args?: Record<string, unknown>
  baseFlags?: Record<string, unknown>
  flags?: Record<string, unknown>
  needsRuntime?: boolean
}

/** Every command in src/commands: id ("server start") -> class and source. */
async function commands(): Promise<Map<string, {cls: CommandClass; source: string}>> {
  const found = new Map<string, {cls: CommandClass; source: string}>()
  const walk = (dir: string): string[] =>
    readdirSync(dir, {withFileTypes: true}).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    )
  for (const file of walk(COMMANDS)) {
    const id = relative(COMMANDS, file).replace(/\.ts$/, '').split('/').join(' ')
    const cls = ((await import(file)) as {default: CommandClass}).default
    found.set(id, {cls, source: readFileSync(file, 'utf8')})
  }

  return found
}

/** The EXIT CODES section of `stigmer <id> --help`, as oclif renders it (wide, no colour). */
async function exitCodesSection(id: string, cls: CommandClass): Promise<string | undefined> {
  const config = await Config.load(ROOT)
  const cmd = {
    ...cls,
    aliases: [],
    args: cls.args ?? {},
    flags: {...cls.baseFlags, ...cls.flags},
    id: id.replaceAll(' ', ':'),
  }
  const help = new StigmerCommandHelp(cmd as never, config, {
    maxWidth: 1000,
    sections: ['description'],
    stripAnsi: true,
  } as never)
  const text = help.generate()
  return /(?:^|\n)EXIT CODES\n([\s\S]*?)(?=\n\n[A-Z][A-Z ]*\n|\n*$)/.exec(text)?.[1]
}

/** The "Per command" table of docs/exit-codes.md, generated from COMMAND_EXIT_CODES. */
function perCommandTable(): string {
  const rows = Object.keys(COMMAND_EXIT_CODES).map((id) => `| \`${id}\` | ${exitCodesCell(id)} |`)
  return ['| command | exits with |', '| --- | --- |', ...rows].join('\n')
}

describe('exit codes per command', () => {
  it('every command has a list, and every list names a command', async () => {
    expect([...(await commands()).keys()].sort()).to.deep.equal(Object.keys(COMMAND_EXIT_CODES).sort())
  })

  it("each command's --help shows its list from the table, in order, with the codes' numbers", async () => {
    for (const [id, {cls}] of await commands()) {
      const section = await exitCodesSection(id, cls)
      const expected = COMMAND_EXIT_CODES[id]!.map(([name, text]) => `${ExitCode[name]} ${text} (${name})`)
      const shown = section
        ?.split('\n')
        .map((line) => line.trim().replaceAll(/\s+/g, ' '))
        .filter(Boolean)
      expect(shown, `stigmer ${id} --help`).to.deep.equal(expected)
      const codes = COMMAND_EXIT_CODES[id]!.map(([name]) => ExitCode[name])
      expect(codes, `${id}: ascending, no repeats`).to.deep.equal([...new Set(codes)].sort((a, b) => a - b))
    }
  })

  it('no description types exit codes by hand', async () => {
    for (const [id, {cls}] of await commands()) {
      expect(String(cls.description), id).to.not.match(/exit codes/i)
    }
  })

  it('lists every code a command can be seen to exit with', async () => {
    for (const [id, {cls, source}] of await commands()) {
      const listed = new Set(COMMAND_EXIT_CODES[id]!.map(([name]) => name))
      // oclif's own parse errors (an unknown flag) exit 2 for every command.
      expect(listed.has('OK') && listed.has('USAGE'), `${id}: 0 and 2`).to.equal(true)
      if (cls.needsRuntime)
        for (const name of ['NO_RUNTIME', 'RUNTIME_UNREACHABLE', 'RUNTIME_PERMISSION'] as const)
          expect(listed.has(name), `${id} needs an engine: ${name}`).to.equal(true)
      // Ctrl-C aborts this.signal: 130, except where the command ends normally (logs -f).
      if (source.includes('this.signal') && id !== 'server logs')
        expect(listed.has('INTERRUPTED'), `${id} uses this.signal: 130`).to.equal(true)
      for (const [, name] of source.matchAll(/ExitCode\.([A-Z_]+)/g))
        expect(listed.has(name as never), `${id} exits with ${name}`).to.equal(true)
    }
  })

  it('docs/exit-codes.md shows the same lists (UPDATE_DOCS=1 rewrites the table)', () => {
    const doc = readFileSync(DOC, 'utf8')
    const table = /\| command \| exits with \|\n\| --- \| --- \|\n(?:\|.*\|\n?)*/.exec(doc)
    expect(table, 'the Per command table').to.not.equal(null)
    const expected = perCommandTable()
    if (process.env.UPDATE_DOCS && table![0].trimEnd() !== expected)
      writeFileSync(DOC, doc.replace(table![0].trimEnd(), expected))
    else expect(table![0].trimEnd()).to.equal(expected)
  })
})

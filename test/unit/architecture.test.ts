import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

/**
 * The import rules of src/ (.dependency-cruiser.mjs): no import cycle, type-only and dynamic
 * imports included, and each folder imports only from the layers below it (docs/architecture.md).
 * Checked with dependency-cruiser, the same run as `npx depcruise src`.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Violation {
  readonly from: string
  readonly to: string
  readonly cycle?: ReadonlyArray<{name: string}>
  readonly rule: {name: string}
}

async function violations(target: string): Promise<Violation[]> {
  const {stdout} = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), target, '--output-type', 'json'],
    {cwd: ROOT, maxBuffer: 64 * 1024 * 1024},
  ).catch((error: {stdout?: string}) => ({stdout: error.stdout ?? ''})) // it exits non-zero when a rule is broken
  return (JSON.parse(stdout) as {summary: {violations: Violation[]}}).summary.violations
}

const describeViolation = (v: Violation) =>
  `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`

describe('architecture: imports in src/', function () {
  this.timeout(60_000)

  it('has no import cycle, and no folder imports from a layer above it (lib, engine, adapters, features)', async () => {
    const found = await violations('src')
    expect(found.map((v) => describeViolation(v))).to.deep.equal([])
  })

  it('the rule sees a cycle made only of type imports (a planted one)', async () => {
    const found = await violations('test/fixtures/import-cycle')
    expect(found.map((v) => v.rule.name)).to.include('no-circular')
  })
})

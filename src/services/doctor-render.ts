/**
 * The human form of a doctor report: one line per engine candidate and per
 * check, each starting with its verdict word (ok / warn / fail) in a column,
 * coloured by the one colour rule (`useColor` in src/lib/terminal.ts).
 */

import type {CheckStatus, DoctorReport} from './doctor.js'

type Word = '-' | CheckStatus

const COLORS: Record<Word, [string, string]> = {
  '-': ['\u001B[2m', '\u001B[22m'],
  fail: ['\u001B[31m', '\u001B[39m'],
  ok: ['\u001B[32m', '\u001B[39m'],
  warn: ['\u001B[33m', '\u001B[39m'],
}

export function renderDoctorReport(report: DoctorReport, options: {color: boolean}): string {
  const word = (w: Word) => {
    const padded = w.padEnd(5)
    if (!options.color) return padded
    const [on, off] = COLORS[w]
    return `${on}${w}${off}${padded.slice(w.length)}`
  }

  const bold = (t: string) => (options.color ? `\u001B[1m${t}\u001B[22m` : t)
  const lines: string[] = []

  const installed = Object.entries(report.installed).map(([cli, path]) => `${cli} ${path ? `(${path})` : 'not found'}`)
  lines.push(bold('Container engines'), `  on PATH: ${installed.join(', ')}`)
  const width = Math.max(0, ...report.engines.map((e) => e.endpoint.length))
  for (const e of report.engines) {
    const verdict: Word = e.usable
      ? 'ok'
      : ['error', 'permission', 'refused', 'timeout'].includes(e.state)
        ? 'warn'
        : '-'
    const who = e.identifiedAs && e.identifiedAs !== e.runtime ? `${e.runtime}->${e.identifiedAs}` : e.runtime
    const version = e.version
      ? `, ${e.version.product} ${e.version.version} (API ${e.version.apiVersion})`
      : e.apiVersion
        ? ` (API ${e.apiVersion})`
        : ''
    lines.push(
      `  ${word(verdict)} ${who.padEnd(7)} ${e.endpoint.padEnd(width)}  ${e.source}: ${e.detail}${version}${e.chosen ? '  <- chosen' : ''}`,
    )
    if (e.wouldStart) lines.push(`  ${' '.repeat(5)} ${' '.repeat(7)} ${' '.repeat(width)}  ${e.wouldStart}`)
  }

  if (report.engines.length === 0) lines.push('  (no candidates: no engine socket locations apply to this platform)')

  lines.push('', bold('Checks'))
  const titleWidth = Math.max(...report.checks.map((c) => c.title.length))
  for (const c of report.checks) {
    lines.push(`  ${word(c.status)} ${c.title.padEnd(titleWidth)}  ${c.detail}`)
    // The engine failure's suggestions are printed once, at the end.
    const repeatedBelow = c.id === 'engine' && report.failure !== undefined && report.failure.suggestions.length > 0
    if (c.hint && c.status !== 'ok' && !repeatedBelow) {
      for (const h of c.hint.split('\n')) lines.push(`  ${' '.repeat(5)} ${' '.repeat(titleWidth)}  -> ${h}`)
    }
  }

  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length
  const fails = count('fail')
  const warns = count('warn')
  const summary = [fails ? `${fails} failing` : '', warns ? `${warns} warning${warns === 1 ? '' : 's'}` : '']
    .filter(Boolean)
    .join(', ')
  lines.push(
    '',
    `${bold('Verdict:')} ${word(report.verdict).trimEnd()}${summary ? ` (${summary})` : ''}${report.exitCode === 0 ? '' : `, exit code ${report.exitCode}`}`,
  )
  if (report.failure && report.failure.suggestions.length > 0) {
    lines.push('', report.failure.message, 'Try this:', ...report.failure.suggestions.map((s) => `  - ${s}`))
  }

  return lines.join('\n')
}

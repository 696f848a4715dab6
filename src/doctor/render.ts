/**
 * The human form of a doctor report: one line per engine candidate and per
 * check, each starting with its verdict word (ok / warn / fail) in a column,
 * coloured by the one colour rule (`useColor` in src/lib/terminal.ts).
 */

import type {CheckStatus, DoctorEngine, DoctorReport} from './doctor.js'

type Word = '-' | CheckStatus

const COLORS: Record<Word, [string, string]> = {
  '-': ['\u001B[2m', '\u001B[22m'],
  fail: ['\u001B[31m', '\u001B[39m'],
  ok: ['\u001B[32m', '\u001B[39m'],
  warn: ['\u001B[33m', '\u001B[39m'],
}

/** The two styles the report uses: a verdict word in its coloured column, and bold headings. */
interface Style {
  readonly word: (w: Word) => string
  readonly bold: (t: string) => string
}

function styleFor(color: boolean): Style {
  return {
    bold: (t) => (color ? `\u001B[1m${t}\u001B[22m` : t),
    word(w) {
      const padded = w.padEnd(5)
      if (!color) return padded
      const [on, off] = COLORS[w]
      return `${on}${w}${off}${padded.slice(w.length)}`
    },
  }
}

/** An engine candidate's word: ok when usable, warn when something answers wrongly there, - when nothing is there. */
function engineWord(e: DoctorEngine): Word {
  if (e.usable) return 'ok'
  return ['error', 'permission', 'refused', 'timeout'].includes(e.state) ? 'warn' : '-'
}

/** One candidate: word, runtime (->what answers), endpoint, what it said; a second line with what stigmer would start. */
function engineLines(e: DoctorEngine, width: number, style: Style): string[] {
  const who = e.identifiedAs && e.identifiedAs !== e.runtime ? `${e.runtime}->${e.identifiedAs}` : e.runtime
  const version = e.version
    ? `, ${e.version.product} ${e.version.version} (API ${e.version.apiVersion})`
    : e.apiVersion
      ? ` (API ${e.apiVersion})`
      : ''
  const lines = [
    `  ${style.word(engineWord(e))} ${who.padEnd(7)} ${e.endpoint.padEnd(width)}  ${e.source}: ${e.detail}${version}${e.chosen ? '  <- chosen' : ''}`,
  ]
  if (e.wouldStart) lines.push(`  ${' '.repeat(5)} ${' '.repeat(7)} ${' '.repeat(width)}  ${e.wouldStart}`)
  return lines
}

/** "Container engines": the engine CLIs on PATH, then every candidate. */
function enginesSection(report: DoctorReport, style: Style): string[] {
  const installed = Object.entries(report.installed).map(([cli, path]) => `${cli} ${path ? `(${path})` : 'not found'}`)
  const lines = [style.bold('Container engines'), `  on PATH: ${installed.join(', ')}`]
  const width = Math.max(0, ...report.engines.map((e) => e.endpoint.length))
  for (const e of report.engines) lines.push(...engineLines(e, width, style))
  if (report.engines.length === 0) lines.push('  (no candidates: no engine socket locations apply to this platform)')
  return lines
}

/** "Checks": one line per check, its hints below it when it is not ok. */
function checksSection(report: DoctorReport, style: Style): string[] {
  const lines = [style.bold('Checks')]
  const titleWidth = Math.max(...report.checks.map((c) => c.title.length))
  // The engine failure's suggestions are printed once, at the end.
  const suggestionsBelow = report.failure !== undefined && report.failure.suggestions.length > 0
  for (const c of report.checks) {
    lines.push(`  ${style.word(c.status)} ${c.title.padEnd(titleWidth)}  ${c.detail}`)
    const repeatedBelow = c.id === 'engine' && suggestionsBelow
    if (c.hint && c.status !== 'ok' && !repeatedBelow) {
      for (const h of c.hint.split('\n')) lines.push(`  ${' '.repeat(5)} ${' '.repeat(titleWidth)}  -> ${h}`)
    }
  }

  return lines
}

/** "Verdict: warn (2 warnings), exit code N". */
function verdictLine(report: DoctorReport, style: Style): string {
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length
  const fails = count('fail')
  const warns = count('warn')
  const summary = [fails ? `${fails} failing` : '', warns ? `${warns} warning${warns === 1 ? '' : 's'}` : '']
    .filter(Boolean)
    .join(', ')
  return `${style.bold('Verdict:')} ${style.word(report.verdict).trimEnd()}${summary ? ` (${summary})` : ''}${report.exitCode === 0 ? '' : `, exit code ${report.exitCode}`}`
}

/** When no engine is usable: the error other commands would stop with, and what to try. */
function failureSection(report: DoctorReport): string[] {
  if (!report.failure || report.failure.suggestions.length === 0) return []
  return ['', report.failure.message, 'Try this:', ...report.failure.suggestions.map((s) => `  - ${s}`)]
}

export function renderDoctorReport(report: DoctorReport, options: {color: boolean}): string {
  const style = styleFor(options.color)
  return [
    ...enginesSection(report, style),
    '',
    ...checksSection(report, style),
    '',
    verdictLine(report, style),
    ...failureSection(report),
  ].join('\n')
}

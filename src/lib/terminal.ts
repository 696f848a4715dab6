/**
 * What stigmer writes to a terminal, in one place: the colour rule, whether
 * live redrawing (spinners, cursor movement) is allowed, and the removal of
 * terminal escapes from text that came from a container, an image or a
 * registry (a log line could otherwise set the window title, write the
 * clipboard with OSC 52, or clear the screen). --json output is never touched.
 */

type Stream = {readonly columns?: number | undefined; readonly isTTY?: boolean | undefined}

/**
 * Colour: FORCE_COLOR (any value but 0/false) turns it on, even in a pipe;
 * otherwise NO_COLOR (any non-empty value) or TERM=dumb turn it off; otherwise
 * a terminal gets colour and a pipe does not.
 */
export function useColor(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== '0' && force.toLowerCase() !== 'false') return true
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  return Boolean(stream.isTTY)
}

/**
 * Live redrawing (spinners, bars, cursor movement): a terminal that is not
 * TERM=dumb and reports a size (a pseudo-terminal of 0 columns, as `script`
 * without a terminal or some CI runners make, cannot be redrawn in place).
 */
export function liveTerminal(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && env.TERM !== 'dumb' && stream.columns !== 0
}

/** `\u001B[1;31m` and any colour code, for text stigmer paints itself. */
export function painter(color: boolean): (code: string, text: string) => string {
  return (code, text) => (color ? `\u001B[${code}m${text}\u001B[0m` : text)
}

// OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC (ESC P|X|^|_ ... ST), CSI (ESC [ params final), any other
// ESC + one character, the 8-bit forms (CSI \x9b, OSC \x9d, ...), then every other control character.
/* eslint-disable no-control-regex */
const ESCAPES = [
  /(?:\u001B\]|\u009D)[^\u0007\u001B\u009C]*(?:\u0007|\u001B\\|\u009C)?/g,
  /(?:\u001B[PX^_]|[\u0090\u0098\u009E\u009F])[^\u001B\u009C]*(?:\u001B\\|\u009C)?/g,
  /(?:\u001B\[|\u009B)[\u0030-\u003F]*[\u0020-\u002F]*[\u0040-\u007E]?/g,
  /\u001B[\u0020-\u002F]*[\u0030-\u007E]?/g,
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g,
]
/* eslint-enable no-control-regex */

/** `text` without terminal escape sequences or control characters (newlines and tabs stay). */
export function stripEscapes(text: string): string {
  let out = text
  for (const pattern of ESCAPES) out = out.replaceAll(pattern, '')
  return out
}

/** Text from a container, an image or a registry, made safe for `stream`: stripped on a terminal, exact in a pipe. */
export function forTerminal(text: string, stream: Stream): string {
  return stream.isTTY ? stripEscapes(text) : text
}

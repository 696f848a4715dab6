/**
 * The one reader of a build's step lines. Docker's classic builder prints "Step 3/9 : RUN x";
 * Buildah (Podman, through its compat API or its CLI) prints "STEP 3/9: RUN x", with the stage
 * in front in multi-stage builds: "[2/2] STEP 3/5: RUN x". Adapters turn such a line into a
 * `step` progress event; services read the parsed step, never the text.
 */
import type {BuildStep} from './types.js'

const STEP_LINE = /^(?:\[([^\]]+)\] )?(?:STEP|Step) (\d+\/\d+) ?:(?: ?(.*))?$/

/** The step a build output line starts, or undefined for any other line. */
export function parseBuildStep(line: string): BuildStep | undefined {
  const trimmed = line.trimEnd()
  const match = STEP_LINE.exec(trimmed)
  if (!match) return undefined
  const [, stage, number, instruction = ''] = match
  return {instruction: instruction.trim(), line: trimmed.trim(), number: number!, ...(stage ? {stage} : {})}
}

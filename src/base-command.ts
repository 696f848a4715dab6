import {Command} from '@oclif/core/command'

import {getRuntime, type ResolvedRuntime} from './engine/choose.js'
import {InterruptedError} from './lib/errors.js'
import {addSecretsFromEnv, redact, redactJson} from './lib/redact.js'
import {forTerminal} from './lib/terminal.js'
import {rememberedEngine} from './server/state.js'
import {toStigmerError, writeError} from './ui/render-error.js'

/**
 * The one base class: owns --json (every command returns a JSON-serialisable
 * result; `this.log` is quiet under --json), error rendering with explicit
 * exit codes (docs/exit-codes.md), Ctrl-C, and the static properties hooks read.
 */
export abstract class StigmerCommand extends Command {
  static override enableJsonFlag = true
  /** The prerun hook detects an engine before this command runs and stops it with the right exit code if none is usable. */
  static needsRuntime = false
  /** Prefer the engine that ran the last `server start` (status, logs, stop). */
  static useRememberedRuntime = false
  private abortController: AbortController | undefined
  private sigintHandler: (() => void) | undefined

  override async catch(error: Error & {exitCode?: number}): Promise<never> {
    // oclif's own exit (this.exit) passes through untouched.
    if ((error as {code?: string}).code === 'EEXIT') throw error
    const stigmerError =
      this.signalAborted && !(error instanceof InterruptedError) && /cancel|abort/i.test(error.message)
        ? new InterruptedError()
        : toStigmerError(error)
    await this.stopProgress()
    if (process.env.DEBUG && error.stack) process.stderr.write(redact(error.stack) + '\n')
    writeError(stigmerError, this.jsonEnabled())
    this.exit(stigmerError.exit)
  }

  override async init(): Promise<void> {
    // Redaction is a property of the output path: the host's secret values are masked in everything printed.
    addSecretsFromEnv(process.env)
    await super.init()
  }

  /** Results on stdout: secrets masked (the values of the secret variables, URL passwords). */
  override log(message = '', ...args: unknown[]): void {
    super.log(typeof message === 'string' ? redact(message) : message, ...args)
  }

  /** Text that came from a container, an image or a registry: escapes removed on a terminal, exact in a pipe. */
  protected logForeign(message: string): void {
    this.log(forTerminal(message, process.stdout))
  }

  /** Every --json result goes through redaction, like every error. */
  protected override toSuccessJson(result: unknown): unknown {
    return redactJson(result)
  }

  override async finally(error: Error | undefined): Promise<void> {
    if (this.sigintHandler) process.off('SIGINT', this.sigintHandler)
    await super.finally(error)
  }

  /** Progress and notes: stderr, never under --json. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(redact(message) + '\n')
  }

  /** The engine, as the prerun hook found it (detected once per process). */
  protected async runtime(flag?: string): Promise<ResolvedRuntime> {
    const ctor = this.constructor as typeof StigmerCommand
    return getRuntime({config: this.config, flag, remembered: ctor.useRememberedRuntime ? rememberedEngine : undefined})
  }

  /**
   * Aborted on the first Ctrl-C (the command cleans up and exits 130); a
   * second Ctrl-C exits at once. Commands that can be interrupted mid-way use it.
   */
  protected get signal(): AbortSignal {
    if (!this.abortController) {
      this.abortController = new AbortController()
      let count = 0
      this.sigintHandler = () => {
        count++
        if (count === 1) {
          if (!this.jsonEnabled())
            process.stderr.write('\nInterrupted: cleaning up (press Ctrl-C again to exit now)...\n')
          this.abortController!.abort(new InterruptedError())
        } else {
          process.exit(130)
        }
      }

      process.on('SIGINT', this.sigintHandler)
      process.on('SIGTERM', this.sigintHandler)
    }

    return this.abortController.signal
  }

  protected get signalAborted(): boolean {
    return this.abortController?.signal.aborted ?? false
  }

  /** Stops any live progress display before an error is printed, so nothing is swallowed. */
  protected async stopProgress(): Promise<void> {}
}

import type {Hook} from '@oclif/core'

/** An unknown command is a usage error (exit 2), rendered like every other error (JSON under --json). */
const hook: Hook<'command_not_found'> = async function (options) {
  const [{usageError}, {writeError}] = await Promise.all([
    import('../../lib/errors.js'),
    import('../../ui/render-error.js'),
  ])
  const id = options.id.replaceAll(':', ' ')
  const known = options.config.commandIDs.map((c) => c.replaceAll(':', ' '))
  const close = known
    .filter((c) => c.startsWith(id.split(' ')[0] ?? '') || id.startsWith(c.split(' ')[0] ?? ''))
    .slice(0, 5)
  const failure = usageError(`"${id}" is not a stigmer command.`, [
    ...(close.length > 0 ? [`Did you mean: ${close.map((c) => `stigmer ${c}`).join(', ')}?`] : []),
    'See all commands: stigmer --help',
  ])
  writeError(failure, (options.argv ?? []).includes('--json'))
  this.exit(failure.exit)
}

export default hook

import {CommandHelp, Help} from '@oclif/core/help'

import {exitCodeRows} from './lib/exit-codes.js'

/**
 * oclif's command help plus an EXIT CODES section after DESCRIPTION,
 * generated from the one table (COMMAND_EXIT_CODES in src/lib/exit-codes.ts),
 * never typed into a description.
 */
export class StigmerCommandHelp extends CommandHelp {
  protected override sections(): ReturnType<CommandHelp['sections']> {
    const sections = super.sections()
    const rows = exitCodeRows(this.command.id)
    if (!rows) return sections
    const at = sections.findIndex((s) => s.header === 'DESCRIPTION') + 1
    return [
      ...sections.slice(0, at),
      {generate: (_, header) => [{body: rows, header}], header: 'EXIT CODES'},
      ...sections.slice(at),
    ]
  }
}

export default class StigmerHelp extends Help {
  protected override CommandHelpClass = StigmerCommandHelp
}

import type {Hook} from '@oclif/core'

import {recordHost} from '../../lib/host.js'

/**
 * Records where the running CLI is (oclif's `config.root`) for plugins, before oclif imports
 * any plugin command: a plugin installed in the data dir cannot `import '@stigmer/cli'`, and
 * process.argv[1] is no guide (a tarball's bin/stigmer runs `node bin/run`, a file that does
 * not exist). Runs for every command, so it does no I/O.
 */
const hook: Hook<'init'> = async function () {
  recordHost({root: this.config.root, version: this.config.version})
}

export default hook

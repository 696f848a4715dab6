import {Args, Flags} from '@oclif/core'

import {StigmerCommand} from '../../base-command.js'
import {installArgument, parsePluginSpec, pluginInstallError, type PluginSpec} from '../../plugins/install.js'

export interface PluginsInstallResult {
  installed: Array<{input: string; name: string; version: string}>
}

/**
 * Replaces @oclif/plugin-plugins' `plugins install` (the root plugin's command wins over a
 * core plugin's with the same id): the name is decided here, then oclif's own install does
 * the work with the npm bundled in the CLI, and its failures get stigmer's error rendering.
 */
export default class PluginsInstall extends StigmerCommand {
  static override aliases = ['plugins:add']
  static override args = {
    plugin: Args.string({
      description: 'A short name (temporal: @stigmer/plugin-temporal), a full npm name, file:<tgz>, or a git URL.',
      required: true,
    }),
  }
  static override description = `A short name means the first-party plugin @stigmer/plugin-<name> and nothing else: if that is not on the registry, nothing is installed (never an unscoped package of the same name). Give any other plugin by its full npm name (@acme/stigmer-plugin-x, with @version or @tag if you like), a packed tarball as file:/path/to/plugin.tgz, or a git URL.

Plugins go to stigmer's data dir (STIGMER_DATA_DIR, else XDG_DATA_HOME/stigmer, else ~/.local/share/stigmer) and are installed with the npm and Node bundled in the CLI. STIGMER_NPM_REGISTRY picks another registry.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> temporal',
    '<%= config.bin %> <%= command.id %> temporal@0.1.0',
    '<%= config.bin %> <%= command.id %> @acme/stigmer-plugin-hello',
    '<%= config.bin %> <%= command.id %> file:$PWD/stigmer-plugin-temporal-0.1.0.tgz',
  ]
  static override flags = {
    force: Flags.boolean({char: 'f', description: 'Let npm fetch remote resources even if a local copy exists.'}),
    silent: Flags.boolean({char: 's', description: "Silence npm's output.", exclusive: ['verbose']}),
    verbose: Flags.boolean({char: 'v', description: "Show npm's output.", exclusive: ['silent']}),
  }
  static override strict = false
  static override summary = 'Install a plugin: a short name is always @stigmer/plugin-<name>.'

  async run(): Promise<PluginsInstallResult> {
    const {argv, flags} = await this.parse(PluginsInstall)
    const naming = this.config.pjson.oclif as {pluginPrefix?: string; scope?: string}
    // Every argument is checked before anything is installed.
    const specs: PluginSpec[] = (argv as string[]).map((input) => parsePluginSpec(input, naming))
    const {commands} = await import('@oclif/plugin-plugins')
    const Install = commands['plugins:install']
    const passed = [
      ...(flags.force ? ['--force'] : []),
      ...(flags.silent ? ['--silent'] : []),
      ...(flags.verbose ? ['--verbose'] : []),
    ]
    const installed: PluginsInstallResult['installed'] = []
    for (const spec of specs) {
      const before = new Set(this.config.plugins.keys())
      try {
        // one npm install at a time, in the order given
        await Install.run([installArgument(spec), ...passed], this.config)
      } catch (error) {
        throw pluginInstallError(spec, error, {
          dataDir: this.config.dataDir,
          registry: this.config.npmRegistry ?? 'https://registry.npmjs.org/',
        })
      }

      const name =
        spec.kind === 'url' ? ([...this.config.plugins.keys()].find((k) => !before.has(k)) ?? spec.input) : spec.name
      installed.push({input: spec.input, name, version: this.config.plugins.get(name)?.version ?? 'unknown'})
    }

    return {installed}
  }
}

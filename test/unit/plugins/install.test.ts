import {expect} from 'chai'

import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {installArgument, parsePluginSpec, pluginInstallError} from '../../../src/plugins/install.js'

const naming = {pluginPrefix: 'plugin', scope: 'stigmer'}
const context = {dataDir: '/home/u/.local/share/stigmer', registry: 'https://registry.npmjs.org/'}

function usageOf(input: string): StigmerError {
  try {
    parsePluginSpec(input, naming)
  } catch (error) {
    return error as StigmerError
  }

  throw new Error(`${input} was accepted`)
}

describe('plugins install', () => {
  describe('what a name means', () => {
    it('a short name is only ever @stigmer/plugin-<name>, with its tag', () => {
      expect(installArgument(parsePluginSpec('temporal', naming))).to.equal('@stigmer/plugin-temporal')
      expect(installArgument(parsePluginSpec('temporal@0.1.0', naming))).to.equal('@stigmer/plugin-temporal@0.1.0')
      expect(installArgument(parsePluginSpec('temporal@next', naming))).to.equal('@stigmer/plugin-temporal@next')
      expect(installArgument(parsePluginSpec('plugin-temporal', naming))).to.equal('@stigmer/plugin-temporal')
      expect(parsePluginSpec('temporal', naming)).to.deep.include({kind: 'first-party', short: 'temporal'})
    })

    it('a scoped name is taken as given', () => {
      expect(installArgument(parsePluginSpec('@acme/stigmer-plugin-x', naming))).to.equal('@acme/stigmer-plugin-x')
      expect(installArgument(parsePluginSpec('@acme/stigmer-plugin-x@1.2.3', naming))).to.equal(
        '@acme/stigmer-plugin-x@1.2.3',
      )
    })

    it('file:, URLs and GitHub owner/repo pass through untouched', () => {
      for (const input of [
        'file:/tmp/a b/plugin-1.0.0.tgz',
        'https://github.com/acme/plugin',
        'git+ssh://git@github.com/acme/plugin.git',
        'acme/stigmer-plugin-x',
      ]) {
        expect(parsePluginSpec(input, naming), input).to.deep.equal({input, kind: 'url'})
      }
    })

    it('refuses what is no package name, with exit 2', () => {
      for (const input of ['', 'Temporal', 'not a name', '@acme', '@acme/', '@Acme/x', '@a/b/c', '.hidden']) {
        const error = usageOf(input)
        expect(error.exit, input).to.equal(ExitCode.USAGE)
        expect(error.suggestions.join('\n')).to.match(/full npm name/)
      }
    })

    it('without a scope in the CLI, a short name is refused rather than installed bare', () => {
      expect(() => parsePluginSpec('temporal', {})).to.throw(/full npm name/)
    })
  })

  describe('failures', () => {
    const short = parsePluginSpec('temporal', naming)

    it('not on the registry: PLUGIN_NOT_FOUND, exit 60, naming the package and how to give a full name', () => {
      const e = pluginInstallError(
        short,
        new Error('@stigmer/plugin-temporal does not exist in the registry.'),
        context,
      )
      expect(e).to.deep.include({code: 'PLUGIN_NOT_FOUND', exit: ExitCode.PLUGIN, kind: 'user'})
      expect(e.message).to.include('No stigmer plugin "temporal"').and.include('@stigmer/plugin-temporal')
      expect(e.suggestions.join('\n')).to.include('@acme/stigmer-plugin-temporal')
    })

    it('not a plugin: PLUGIN_INVALID', () => {
      const e = pluginInstallError(parsePluginSpec('@acme/x', naming), new Error('plugin is invalid'), context)
      expect(e).to.deep.include({code: 'PLUGIN_INVALID', exit: ExitCode.PLUGIN})
    })

    it('npm failing: an external failure with the command and npm output', () => {
      const e = pluginInstallError(short, new Error('npm ERR! network ETIMEDOUT'), context)
      expect(e).to.deep.include({code: 'PLUGIN_INSTALL_FAILED', exit: ExitCode.PLUGIN, kind: 'external'})
      expect(e.command).to.include('npm install @stigmer/plugin-temporal')
      expect(e.details).to.include('ETIMEDOUT')
    })

    it('permission denied in the data dir: says whose folder', () => {
      const e = pluginInstallError(short, new Error('EACCES: permission denied, mkdir'), context)
      expect(e.message).to.include(context.dataDir)
    })
  })
})

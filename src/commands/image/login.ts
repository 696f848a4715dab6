import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {capabilitiesOf} from '../../engine/capabilities.js'
import {checkLoginStore} from '../../image/credential-store.js'
import {
  DEFAULT_LOGIN_REGISTRY,
  type LoginResult,
  normalizeRegistry,
  readPassword,
  registryLogin,
} from '../../image/login.js'
import {usageError} from '../../lib/errors.js'
import {runtimeFlag} from '../../lib/flags.js'
import {addSecret} from '../../lib/redact.js'

export default class ImageLogin extends StigmerCommand {
  static override args = {
    registry: Args.string({default: DEFAULT_LOGIN_REGISTRY, description: 'Registry host (host or host:port).'}),
  }
  static override description = `Logs in to a container registry for "stigmer image push" (and pulls of private images), through the engine's own mechanism: the engine checks the credentials with the registry, then "docker login" stores them in Docker's config.json or its credential helper, "podman login" in Podman's auth.json. stigmer keeps no copy, in its config or anywhere else.

The password (or token) comes only from stdin: piped, or typed at a prompt that does not echo when stdin is a terminal. There is no password flag: a value on the command line ends up in shell history and in the process list.

Where Docker's config.json names a credential helper (credsStore, or credHelpers for this registry), the login is kept by that helper, never written in plain text, also when no docker CLI is installed. Log out with "stigmer image logout".`
  static override examples = [
    {
      command: `printf '%s' "$GITHUB_TOKEN" | <%= config.bin %> <%= command.id %> --username octocat --password-stdin`,
      description: 'Log in to ghcr.io with a token (write:packages to push).',
    },
    {
      command: '<%= config.bin %> <%= command.id %> registry.example.com:5000 --username ci',
      description: 'Prompt for the password without echo.',
    },
    `cat pw.txt | <%= config.bin %> <%= command.id %> 127.0.0.1:5000 --username stigmer-lab --password-stdin --runtime podman`,
  ]
  static override flags = {
    password: Flags.string({description: 'Not accepted: use --password-stdin.', hidden: true}),
    'password-stdin': Flags.boolean({
      description:
        'Read the password from stdin (the only way; on a terminal you are prompted without echo). Accepted for docker login compatibility.',
    }),
    runtime: runtimeFlag,
    username: Flags.string({char: 'u', description: 'User name at the registry.', required: true}),
  }
  static override needsRuntime = true
  static override summary = 'Log in to a registry through the engine (docker login / podman login).'

  async run(): Promise<LoginResult> {
    const {args, flags} = await this.parse(ImageLogin)
    if (flags.password !== undefined) {
      addSecret(flags.password)
      throw usageError(
        'stigmer never takes a password on the command line: it would end up in shell history and the process list.',
        [
          `Pipe it in: printf '%s' "$TOKEN" | stigmer image login ${args.registry} --username ${flags.username} --password-stdin`,
          'Or run without --password-stdin on a terminal to be prompted (no echo).',
        ],
      )
    }

    const registry = normalizeRegistry(args.registry)
    const username = flags.username.trim()
    if (username === '') throw usageError('--username is empty.')
    const {runtime} = await this.runtime(flags.runtime)
    // A store that cannot keep the login says so before the password is asked for.
    checkLoginStore(capabilitiesOf(runtime).loginStore, registry, {env: process.env})
    const password = await readPassword({registry, username})
    const result = await registryLogin(runtime, {password, registry, username})
    this.log(`Logged in to ${registry} as ${username} (stored by ${result.storedWith}).`)
    return result
  }
}

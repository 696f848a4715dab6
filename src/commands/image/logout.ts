import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {registryLogout, type LogoutResult, type StoreEngine} from '../../image/credential-store.js'
import {DEFAULT_LOGIN_REGISTRY, normalizeRegistry} from '../../image/login.js'
import {usageError} from '../../lib/errors.js'

export default class ImageLogout extends StigmerCommand {
  static override args = {
    registry: Args.string({default: DEFAULT_LOGIN_REGISTRY, description: 'Registry host (host or host:port).'}),
  }
  static override description = `Removes the credentials "stigmer image login" (or docker login / podman login) stored for a registry, from Docker's store (config.json, or the credential helper it names: credsStore, or credHelpers for this registry) and from Podman's (the auth.json podman login writes: REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/<uid>/auth.json). Every spelling of the registry is removed (ghcr.io, https://ghcr.io, ...); other logins and settings in those files are kept. No engine needs to be running.

Without --runtime both engines' stores are cleared; with --runtime docker or podman, only that engine's. Both stores are checked before either is changed.`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: "Forget ghcr.io in both engines' stores."},
    {
      command: '<%= config.bin %> <%= command.id %> 127.0.0.1:5000 --runtime podman',
      description: "Forget a local registry in Podman's auth.json only.",
    },
    '<%= config.bin %> <%= command.id %> registry.example.com --json',
  ]
  static override flags = {
    runtime: Flags.string({
      description: "Only this engine's credential store: docker or podman. Default: both.",
      helpGroup: 'ENGINE',
    }),
  }
  static override summary = "Log out of a registry: remove its credentials from Docker's and Podman's stores."

  async run(): Promise<LogoutResult> {
    const {args, flags} = await this.parse(ImageLogout)
    const registry = normalizeRegistry(args.registry)
    let engines: StoreEngine[] = ['docker', 'podman']
    if (flags.runtime !== undefined) {
      const wanted = flags.runtime.trim().toLowerCase()
      if (wanted !== 'docker' && wanted !== 'podman') {
        throw usageError(`image logout knows the credential stores of docker and podman, not "${flags.runtime}".`, [
          'Use --runtime docker or --runtime podman, or leave it out to clear both.',
        ])
      }

      engines = [wanted]
    }

    const result = await registryLogout(registry, engines, {env: process.env})
    for (const store of result.stores) {
      const name = store.engine === 'docker' ? 'Docker' : 'Podman'
      this.log(
        store.removed
          ? `Removed the login to ${registry} from ${name}'s store (${store.from.map((f) => (f === 'file' ? store.path : f)).join(' and ')}).`
          : `${name}: not logged in to ${registry} (nothing in ${store.path}).`,
      )
    }

    if (!result.removed) this.log(`Nothing to remove: no stored login to ${registry}.`)
    return result
  }
}

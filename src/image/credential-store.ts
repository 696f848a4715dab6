import type {LoginStore} from '../engine/types.js'

import {which} from '../engine/detection/machine.js'
import {
  type AuthFile,
  CredentialStoreError,
  dockerConfigPath,
  helperFor,
  podmanAuthFile,
  readAuthFile,
  registryKeys,
  runHelper,
  storeKey,
  writeAuthFile,
} from '../engine/registry-auth.js'
import {StigmerError} from '../lib/errors.js'
import {ExitCode} from '../lib/exit-codes.js'

/**
 * Where each engine keeps registry credentials on this machine, and the checks and removals
 * `image login` and `image logout` make there. Docker: $DOCKER_CONFIG/config.json (or
 * ~/.docker/config.json) and the credential helper it names (credHelpers for the registry,
 * else credsStore). Podman: the auth.json `podman login` writes, and its credHelpers.
 */

export type StoreEngine = 'docker' | 'podman'

/** The kind of store each engine's CLI logs in to (the `loginStore` the engines declare). */
const STORE_KIND: Readonly<Record<StoreEngine, LoginStore>> = {docker: 'docker-config', podman: 'containers-auth'}

/** The engine whose CLI keeps a kind of store, as `image logout` names it. */
function engineOfStore(store: LoginStore): StoreEngine {
  return (Object.keys(STORE_KIND) as StoreEngine[]).find((engine) => STORE_KIND[engine] === store)!
}

export interface StoreMachine {
  readonly env: NodeJS.ProcessEnv
  readonly platform?: NodeJS.Platform
  readonly uid?: number | undefined
}

export function storePath(engine: StoreEngine, machine: StoreMachine): string {
  return STORE_KIND[engine] === 'docker-config'
    ? dockerConfigPath(machine.env)
    : podmanAuthFile(machine.env, machine.platform ?? process.platform, machine.uid ?? process.getuid?.())
}

/** The helper that keeps this registry's credentials for an engine, by the file's own rules. */
function helperOf(engine: StoreEngine, config: AuthFile, registry: string): string | undefined {
  // Podman's auth.json has credHelpers; credsStore is Docker's alone.
  return STORE_KIND[engine] === 'docker-config'
    ? helperFor(config, registry)
    : helperFor(config.credHelpers ? {credHelpers: config.credHelpers} : {}, registry)
}

interface StorePlan {
  readonly engine: StoreEngine
  readonly path: string
  readonly config: AuthFile | undefined
  readonly helper: {name: string; program: string} | undefined
}

/** Reads the file and finds the helper; a CredentialStoreError when either is wrong. Writes nothing. */
function planStore(engine: StoreEngine, registry: string, machine: StoreMachine): StorePlan {
  const path = storePath(engine, machine)
  const config = readAuthFile(path)
  const name = config ? helperOf(engine, config, registry) : undefined
  if (!name) return {config, engine, helper: undefined, path}
  const program = `docker-credential-${name}`
  const found = which(program, machine.env)
  if (!found) {
    throw new CredentialStoreError(
      'helper-missing',
      `${path} says the credential helper "${name}" keeps the credentials for ${registry}, but ${program} is not on PATH`,
      {helper: program, path},
    )
  }

  return {config, engine, helper: {name, program: found}, path}
}

/**
 * Before `image login` contacts anything: the engine's credential store must be usable, or the
 * login would be checked with the registry and then fail to be kept (or, worse, be written in
 * plain text where the user's config says a helper keeps it).
 */
export function checkLoginStore(store: LoginStore | undefined, registry: string, machine: StoreMachine): void {
  if (store === undefined) return // an engine whose store stigmer does not know: its own login decides
  try {
    planStore(engineOfStore(store), registry, machine)
  } catch (error) {
    throw credentialStoreFailure(error, 'login', registry) ?? error
  }
}

/** A CredentialStoreError as the user sees it (exit 25); undefined for anything else. */
export function credentialStoreFailure(
  error: unknown,
  action: 'login' | 'logout',
  registry: string,
): StigmerError | undefined {
  if (!(error instanceof CredentialStoreError)) return undefined
  const what =
    action === 'login' ? `The login to ${registry} cannot be stored` : `The login to ${registry} cannot be removed`
  switch (error.problem) {
    case 'file-invalid': {
      return new StigmerError(`${what}: ${error.message}.`, {
        cause: error,
        code: 'AUTH_FILE_INVALID',
        exit: ExitCode.CREDENTIAL_STORE,
        kind: 'user',
        suggestions: [
          `Repair ${error.path} (it must be a JSON object), or move it aside and log in again: mv '${error.path}' '${error.path}.broken'`,
          'stigmer does not overwrite it: it may hold other logins and settings.',
        ],
      })
    }

    case 'file-unwritable': {
      return new StigmerError(`${what}: ${error.message}.`, {
        cause: error,
        code: 'AUTH_FILE_UNWRITABLE',
        exit: ExitCode.CREDENTIAL_STORE,
        kind: 'user',
        suggestions: [`Check the owner and permissions of ${error.path} and its folder.`],
      })
    }

    case 'helper-failed':
    case 'helper-missing': {
      const missing = error.problem === 'helper-missing'
      return new StigmerError(`${what}: ${error.message}.`, {
        cause: error,
        code: 'CREDENTIAL_HELPER',
        exit: ExitCode.CREDENTIAL_STORE,
        kind: missing ? 'user' : 'external',
        suggestions: missing
          ? [
              `Install ${error.helper ?? 'the helper'} (e.g. docker-credential-pass, -secretservice, -osxkeychain, -desktop), or remove "credsStore"/"credHelpers" from ${error.path} to keep logins in the file itself.`,
              'stigmer never writes the password in plain text where your config says a helper keeps it.',
            ]
          : [`Run ${error.helper ?? 'the helper'} by hand to see why (for a keychain: is it unlocked?).`],
      })
    }
  }
}

export interface LogoutStoreResult {
  readonly engine: StoreEngine
  /** The auth file that was looked at. */
  readonly path: string
  /** Whether a credential for the registry was there and is gone now. */
  readonly removed: boolean
  /** Where it was: "file", "helper <name>", or both. */
  readonly from: readonly string[]
}

export interface LogoutResult {
  readonly registry: string
  readonly removed: boolean
  readonly stores: readonly LogoutStoreResult[]
}

/**
 * Removes a registry's credentials from each engine's store, as `docker logout` / `podman
 * logout` do: the entries under every spelling of the registry in the file's `auths`, and the
 * entry the credential helper keeps. Every store is checked before anything is changed, so a
 * broken one stops the command before the other is touched. Needs no engine running.
 */
export async function registryLogout(
  registry: string,
  engines: readonly StoreEngine[],
  machine: StoreMachine,
): Promise<LogoutResult> {
  let plans: StorePlan[]
  try {
    plans = engines.map((engine) => planStore(engine, registry, machine))
  } catch (error) {
    throw credentialStoreFailure(error, 'logout', registry) ?? error
  }

  const stores: LogoutStoreResult[] = []
  for (const plan of plans) {
    const from: string[] = []
    try {
      const auths = plan.config?.auths
      const keys = registryKeys(registry).filter((k) => auths && Object.hasOwn(auths, k))
      if (plan.config && auths && keys.length > 0) {
        for (const k of keys) delete auths[k]
        writeAuthFile(plan.path, plan.config)
        from.push('file')
      }

      if (plan.helper) {
        const erased = await runHelper(plan.helper.program, 'erase', storeKey(registry), plan.path)
        if ('ok' in erased) from.push(`helper ${plan.helper.name}`)
      }
    } catch (error) {
      throw credentialStoreFailure(error, 'logout', registry) ?? error
    }

    stores.push({engine: plan.engine, from, path: plan.path, removed: from.length > 0})
  }

  return {registry, removed: stores.some((s) => s.removed), stores}
}

/**
 * The capabilities of the built-in engines (see `EngineCapabilities` in ./types.ts), and the
 * defaults for a plugin runtime that declares none. Pure data: the providers (src/adapters/providers.ts)
 * and the adapters both point here, so a provider can answer before any adapter is loaded.
 */
import type {EngineCapabilities} from '../engine/types.js'

export const DOCKER_CAPABILITIES: EngineCapabilities = {
  hostAlias: 'host.docker.internal',
  // Docker Engine on Linux does not provide host.docker.internal (Docker Desktop does, and accepts the entry too).
  hostAliasNeedsHostGateway: true,
  keepIdWhenRootless: false,
  rootlessHostNetworkIsolated: true,
  loginStore: 'docker-config',
  manualBuildFlags: [],
  vmName(platform, product) {
    if (product && /desktop/i.test(product)) return 'Docker Desktop'
    return platform === 'linux' ? 'Docker Desktop' : 'Docker Desktop (or Colima / OrbStack)'
  },
}

export const PODMAN_CAPABILITIES: EngineCapabilities = {
  hostAlias: 'host.containers.internal',
  hostAliasNeedsHostGateway: false,
  keepIdWhenRootless: true,
  rootlessHostNetworkIsolated: false,
  loginStore: 'containers-auth',
  // The OCI format drops HEALTHCHECK.
  manualBuildFlags: ['--format', 'docker'],
  vmName: () => 'Podman machine',
}

/** What an engine that declares nothing is assumed to do: nothing special. */
export function genericCapabilities(engine: {hostGatewayName?: string; name: string}): EngineCapabilities {
  return {
    hostAlias: engine.hostGatewayName ?? 'host.docker.internal',
    hostAliasNeedsHostGateway: false,
    keepIdWhenRootless: false,
    manualBuildFlags: [],
    rootlessHostNetworkIsolated: false,
    vmName: () => `the ${engine.name} VM`,
  }
}

/** The capabilities an engine (a provider or an adapter) declares, or the generic ones. */
export function capabilitiesOf(engine: {
  capabilities?: EngineCapabilities | undefined
  hostGatewayName?: string
  name: string
}): EngineCapabilities {
  return engine.capabilities ?? genericCapabilities(engine)
}

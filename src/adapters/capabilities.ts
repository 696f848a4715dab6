/**
 * The capabilities of the built-in engines (see `EngineCapabilities` in src/engine/types.ts;
 * what an engine that declares none gets is src/engine/capabilities.ts). Pure data: the providers (src/adapters/providers.ts)
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

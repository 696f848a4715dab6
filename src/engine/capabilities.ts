/**
 * How features ask what an engine does (`capabilitiesOf`), and what an engine that declares
 * nothing (a plugin runtime) is assumed to do. The built-in engines' own are in
 * src/adapters/capabilities.ts.
 */
import type {EngineCapabilities} from './types.js'

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

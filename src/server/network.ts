/**
 * How the agent-runner container reaches services on the host (Temporal on
 * localhost:7233, the Stigmer backend on localhost:7234, an LLM such as Ollama
 * on localhost:11434). Pure functions: `server start` applies them, `doctor` and
 * `server status` explain them.
 *
 * - Linux with the engine on this machine: host networking, so `localhost`
 *   inside the container is the host's.
 * - An engine in a VM (Docker Desktop, Podman machine, Colima, OrbStack) or any
 *   non-Linux host: host networking would be the VM's network, so bridge
 *   networking, with every host address rewritten to the engine's gateway name
 *   (host.docker.internal / host.containers.internal).
 */

import type {EngineCapabilities, NetworkMode} from '../engine/types.js'

export type {NetworkMode} from '../engine/types.js'

export interface NetworkEngineFacts {
  /** What the engine declares: its VM's name, whether rootless host networking is its own namespace. */
  readonly capabilities: Pick<EngineCapabilities, 'rootlessHostNetworkIsolated' | 'vmName'>
  /** The engine runs in a VM (EngineInfo.inVm). */
  readonly inVm: boolean
  readonly rootless: boolean
  /** Product name as the engine reports it (EngineInfo.name), used only in the reason. */
  readonly name?: string
}

export interface NetworkModeInput {
  readonly platform: NodeJS.Platform
  readonly engineInfo: NetworkEngineFacts
  /** An explicit choice (--network, or `network` in the config file): it wins. */
  readonly requested?: NetworkMode | undefined
  /** Where `requested` came from, for the reason. Default "--network". */
  readonly requestedSource?: string
}

export interface NetworkModeChoice {
  readonly mode: NetworkMode
  readonly reason: string
  /** Something that may still not work with this mode (doctor shows it as a warning). */
  readonly caveat?: string
}

const PORTS = 'localhost:7233 and localhost:7234'

/** A short name for the VM the engine runs in, for messages. */
function vmName(platform: NodeJS.Platform, engine: NetworkEngineFacts): string {
  return engine.capabilities.vmName(platform, engine.name)
}

/** Which network mode `server start` uses, and why. */
export function chooseNetworkMode(input: NetworkModeInput): NetworkModeChoice {
  const {engineInfo: engine, platform} = input
  const hostBehaves = platform === 'linux' && !engine.inVm
  if (input.requested) {
    const source = input.requestedSource ?? '--network'
    const reason = `${input.requested} networking was asked for (${source})`
    if (input.requested === 'host' && !hostBehaves) {
      return {
        caveat: `the engine runs in a VM (${vmName(platform, engine)}): with host networking, localhost inside the container is the VM, not this machine, so ${PORTS} will not reach services here`,
        mode: 'host',
        reason,
      }
    }

    if (input.requested === 'bridge' && hostBehaves) {
      return {
        caveat:
          'bridge networking on Linux: the container reaches the host through the bridge gateway, so services on the host must listen on an address the bridge reaches (0.0.0.0 or the bridge gateway), not only on 127.0.0.1',
        mode: 'bridge',
        reason,
      }
    }

    return {mode: input.requested, reason}
  }

  if (hostBehaves) {
    const choice = {mode: 'host' as const, reason: `Linux: host networking reaches ${PORTS} directly`}
    if (engine.capabilities.rootlessHostNetworkIsolated && engine.rootless) {
      return {
        ...choice,
        caveat:
          "rootless Docker: host networking is RootlessKit's network namespace, not the host's; services listening only on the host's loopback are not reachable unless they are published through the same engine (or use --network bridge with a non-loopback address)",
      }
    }

    return choice
  }

  const where =
    platform === 'linux' ? vmName(platform, engine) : `${vmName(platform, engine)} on ${platformName(platform)}`
  return {
    mode: 'bridge',
    reason: `${where} runs containers in a VM: host networking would not reach the host there, so stigmer uses bridge networking and points host addresses at the engine's host gateway`,
  }
}

function platformName(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'darwin': {
      return 'macOS'
    }

    case 'win32': {
      return 'Windows'
    }

    default: {
      return platform
    }
  }
}

/** True for a host part that means "this machine" (brackets already removed). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase()
  if (
    h === 'localhost' ||
    h === '0.0.0.0' ||
    h === '::1' ||
    h === '::' ||
    h === '0:0:0:0:0:0:0:1' ||
    h === '::ffff:127.0.0.1'
  )
    return true
  // The whole of 127.0.0.0/8 is loopback (Debian maps the hostname to 127.0.1.1).
  return /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(h)
}

/**
 * Rewrites a host address that means "this machine" (localhost, 127.0.0.1,
 * ::1, 0.0.0.0) to `gatewayName`, in a bare host, a host:port, or a URL (with
 * userinfo, port, path, query). Everything else is returned unchanged, byte
 * for byte.
 *
 *   localhost:7233              -> host.docker.internal:7233
 *   http://localhost:11434/v1   -> http://host.docker.internal:11434/v1
 *   [::1]:7234                  -> host.docker.internal:7234
 *   dns:///127.0.0.1:7233       -> dns:///host.docker.internal:7233  (gRPC target form)
 */
export function rewriteHostAddress(value: string, gatewayName: string): string {
  // A bare IPv6 literal without brackets cannot carry a port.
  if (!value.includes('/') && !value.includes('[') && (value.match(/:/g)?.length ?? 0) > 1) {
    return isLoopbackHost(value) ? gatewayName : value
  }

  // gRPC's dns:///host:port names the host in the path.
  const dns = /^(dns:\/\/[^/]*\/)(.*)$/i.exec(value)
  if (dns) return dns[1] + rewriteHostAddress(dns[2]!, gatewayName)

  const match = /^([a-z][\d+.a-z-]*:\/\/)?([^#/?@]*@)?(\[[^\]]*\]|[^#/:?[\]]*)(.*)$/i.exec(value)
  if (!match) return value
  const [, scheme = '', userinfo = '', host = '', rest = ''] = match
  if (host === '') return value
  // After the host comes nothing, a port, or the path/query/fragment.
  if (rest !== '' && !/^(?::\d*)?(?:[#/?].*)?$/.test(rest)) return value
  const bare = host.startsWith('[') ? host.slice(1, -1) : host
  if (!isLoopbackHost(bare)) return value
  return `${scheme}${userinfo}${gatewayName}${rest}`
}

/**
 * Extra /etc/hosts entries the container needs. An engine that does not provide its host
 * alias by itself (Docker on Linux: host.docker.internal; Docker Desktop does, and accepts
 * the entry too) gets it mapped to `host-gateway` in bridge mode. Podman provides
 * host.containers.internal itself.
 */
export function extraHostsFor(
  mode: NetworkMode,
  engine: Pick<EngineCapabilities, 'hostAlias' | 'hostAliasNeedsHostGateway'>,
): Record<string, string> {
  if (mode === 'bridge' && engine.hostAliasNeedsHostGateway) return {[engine.hostAlias]: 'host-gateway'}
  return {}
}

import type {ContainerRuntime, Endpoint} from './adapters/types.js'
import type {Candidate, MachineView, Strategy} from './detection/strategies.js'

import {
  dockerContext,
  dockerHostEnv,
  dockerSockets,
  podmanHostEnv,
  podmanService,
  podmanSockets,
} from './detection/strategies.js'

export interface RuntimeContext {
  readonly machine: MachineView
  /** Where stigmer may keep sockets of helper services. */
  readonly runDir: string
  /** Where stigmer keeps state between commands; when given, adapters cache the engine's /info there. */
  readonly stateDir?: string
}

/**
 * A container engine stigmer can use. Built-in: docker and podman. Plugins add
 * more through the `stigmer:runtimes` hook (see src/plugin-api.ts).
 */
export interface RuntimeProvider {
  readonly name: string
  readonly displayName: string
  /** The engine's own CLI, for "run this by hand" hints. */
  readonly cli: string
  strategies(ctx: RuntimeContext): Strategy[]
  /** Builds the adapter for an endpoint that answered. Loads the engine client lazily. */
  create(endpoint: Endpoint, ctx: RuntimeContext): Promise<ContainerRuntime>
  /** Starts an API service for a spawnable candidate and resolves once it answers. */
  spawn?(candidate: Candidate, ctx: RuntimeContext): Promise<void>
  /** One line each: how to install it on this platform. */
  installHints(platform: NodeJS.Platform): string[]
  /** How to start it when installed but not running. */
  startHints(platform: NodeJS.Platform, candidate?: Candidate): string[]
  /** What to do about a permission-denied socket. */
  permissionHints(platform: NodeJS.Platform, socket: string): string[]
  /** Whether its CLI is installed (binary on PATH) even if nothing answers. */
  installed(machine: MachineView): boolean
}

export const dockerProvider: RuntimeProvider = {
  cli: 'docker',
  async create(endpoint, ctx) {
    const {DockerAdapter} = await import('./adapters/docker.js')
    return new DockerAdapter(endpoint, ctx)
  },
  displayName: 'Docker',
  installHints(platform) {
    if (platform === 'linux') {
      return [
        'Docker Engine: https://docs.docker.com/engine/install/ (Debian/Ubuntu: sudo apt install docker.io)',
        'or Docker Desktop for Linux: https://docs.docker.com/desktop/install/linux/',
      ]
    }

    return ['Docker Desktop: https://www.docker.com/products/docker-desktop/']
  },
  installed: (m) =>
    m.which('docker') !== undefined ||
    m.which('dockerd') !== undefined ||
    (m.platform === 'darwin' && m.exists('/Applications/Docker.app')),
  name: 'docker',
  permissionHints(platform, socket) {
    if (platform !== 'linux') return [`Check that your user may open ${socket}, or restart Docker Desktop.`]
    return [
      `Add yourself to the docker group: sudo usermod -aG docker "$USER", then log out and back in (or run: newgrp docker).`,
      'Or use rootless Podman instead: stigmer ... --runtime podman (see docs/TROUBLESHOOTING.md).',
    ]
  },
  startHints(platform) {
    if (platform === 'linux') {
      return [
        'Start Docker Engine: sudo systemctl start docker (rootless: systemctl --user start docker)',
        'Docker Desktop for Linux: systemctl --user start docker-desktop, or open Docker Desktop.',
      ]
    }

    return [
      'Start Docker Desktop (open the Docker app) and wait until it says "Engine running".',
      'Colima: colima start',
    ]
  },
  strategies: () => [dockerHostEnv, dockerContext, dockerSockets],
}

export const podmanProvider: RuntimeProvider = {
  cli: 'podman',
  async create(endpoint, ctx) {
    const {PodmanAdapter} = await import('./adapters/podman.js')
    return new PodmanAdapter(endpoint, ctx)
  },
  displayName: 'Podman',
  installHints(platform) {
    if (platform === 'darwin')
      return [
        'Podman: brew install podman && podman machine init && podman machine start (https://podman.io/docs/installation)',
      ]
    if (platform === 'win32')
      return ['Podman Desktop: https://podman-desktop.io/ (then: podman machine init && podman machine start)']
    return [
      'Podman on Debian/Ubuntu: sudo apt install podman',
      'Podman on Fedora/RHEL: sudo dnf install podman',
      'More: https://podman.io/docs/installation',
    ]
  },
  installed: (m) => m.which('podman') !== undefined,
  name: 'podman',
  permissionHints(platform, socket) {
    return [
      `Your user may not open ${socket}. Use your own rootless Podman socket: systemctl --user start podman.socket`,
      platform === 'linux'
        ? 'Or unset CONTAINER_HOST so stigmer starts a Podman service for your user.'
        : 'Or restart the Podman machine: podman machine stop && podman machine start',
    ]
  },
  async spawn(candidate, ctx) {
    const {startPodmanService} = await import('./adapters/podman-service.js')
    await startPodmanService(candidate.endpoint, ctx)
  },
  startHints(platform) {
    if (platform === 'linux') {
      return [
        'Start the Podman API socket: systemctl --user start podman.socket (rootful: sudo systemctl start podman.socket)',
        'Or install the podman binary and stigmer starts a Podman service by itself.',
      ]
    }

    return ['Start the Podman machine: podman machine start (first time: podman machine init)']
  },
  strategies: (ctx) => [podmanHostEnv, podmanSockets, podmanService(ctx.runDir)],
}

export const BUILTIN_PROVIDERS: readonly RuntimeProvider[] = [dockerProvider, podmanProvider]

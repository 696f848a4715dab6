/**
 * The built-in engines' providers. The provider types live at the seam (src/engine/types.ts);
 * they are re-exported here for code that imported them from this module.
 */
import type {RuntimeProvider} from '../engine/types.js'

import {
  dockerContext,
  dockerHostEnv,
  dockerSockets,
  podmanHostEnv,
  podmanService,
  podmanSockets,
} from '../engine/detection/strategies.js'
import {DOCKER_CAPABILITIES, PODMAN_CAPABILITIES} from './capabilities.js'

export type {RuntimeContext, RuntimeProvider} from '../engine/types.js'

export const dockerProvider: RuntimeProvider = {
  capabilities: DOCKER_CAPABILITIES,
  cli: 'docker',
  async create(endpoint, ctx) {
    const {DockerAdapter} = await import('./docker.js')
    return new DockerAdapter(endpoint, ctx)
  },
  displayName: 'Docker',
  identifiedByPing: true,
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
  capabilities: PODMAN_CAPABILITIES,
  cli: 'podman',
  async create(endpoint, ctx) {
    const {PodmanAdapter} = await import('./podman.js')
    return new PodmanAdapter(endpoint, ctx)
  },
  displayName: 'Podman',
  identifiedByPing: true,
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
    const {startPodmanService} = await import('./podman-service.js')
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

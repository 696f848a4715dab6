import {createHash} from 'node:crypto'
import {join} from 'node:path'

import type {Endpoint} from './endpoint.js'

import {endpoint, parseEndpointUrl} from './endpoint.js'

/**
 * The machine a strategy looks at. Everything a strategy reads comes through
 * here, so unit tests can describe any machine (macOS, Linux, Windows, WSL,
 * rootless) without touching the real one.
 */
export interface MachineView {
  readonly platform: NodeJS.Platform
  readonly env: Readonly<Record<string, string | undefined>>
  readonly homedir: string
  /** undefined on Windows. */
  readonly uid: number | undefined
  readFile(path: string): string | undefined
  exists(path: string): boolean
  /** Full path of an executable on PATH, or undefined. */
  which(command: string): string | undefined
}

/** What a runtime provider is given: the machine, and where stigmer may keep sockets of helper services. */
export interface RuntimeContext {
  readonly machine: MachineView
  /** Where stigmer may keep sockets of helper services. */
  readonly runDir: string
  /** Where stigmer keeps state between commands; when given, adapters cache the engine's /info there. */
  readonly stateDir?: string
}

/** One place an engine might answer. Probing it is detect.ts's job. */
export interface Candidate {
  readonly runtime: string
  readonly endpoint: Endpoint
  /** The user asked for this one by name (DOCKER_HOST, a docker context): do not silently skip it. */
  readonly explicit: boolean
  /** No socket yet: stigmer can start an API service for it (a short-lived `podman system service`). */
  readonly spawnable?: boolean
}

export interface Strategy {
  readonly name: string
  readonly runtime: string
  candidates(machine: MachineView): Candidate[]
}

const unix = (path: string) => `unix://${path}`

function fromEnv(runtime: string, variable: string, machine: MachineView): Candidate[] {
  const value = machine.env[variable]
  if (value === undefined || value.trim() === '') return []
  parseEndpointUrl(value, variable) // throws a usage error when malformed
  let tls: Endpoint['tls'] | undefined
  if (variable === 'DOCKER_HOST' && value.startsWith('tcp://')) {
    const verify =
      machine.env.DOCKER_TLS_VERIFY !== undefined &&
      machine.env.DOCKER_TLS_VERIFY !== '' &&
      machine.env.DOCKER_TLS_VERIFY !== '0'
    const certPath = machine.env.DOCKER_CERT_PATH || join(machine.homedir, '.docker')
    if (verify || machine.env.DOCKER_CERT_PATH) {
      tls = {
        ca: join(certPath, 'ca.pem'),
        cert: join(certPath, 'cert.pem'),
        key: join(certPath, 'key.pem'),
        verify,
      }
    }
  }

  return [{endpoint: endpoint(value.trim(), variable, tls), explicit: true, runtime}]
}

/** DOCKER_HOST wins over everything for Docker, as with the docker CLI. */
export const dockerHostEnv: Strategy = {
  candidates: (m) => fromEnv('docker', 'DOCKER_HOST', m),
  name: 'DOCKER_HOST',
  runtime: 'docker',
}

/** The current `docker context` (DOCKER_CONTEXT, or currentContext in ~/.docker/config.json). */
export const dockerContext: Strategy = {
  candidates(m) {
    const configDir = m.env.DOCKER_CONFIG || join(m.homedir, '.docker')
    let name = m.env.DOCKER_CONTEXT
    if (!name) {
      const text = m.readFile(join(configDir, 'config.json'))
      if (text) {
        try {
          name = (JSON.parse(text) as {currentContext?: string}).currentContext
        } catch {
          name = undefined
        }
      }
    }

    if (!name || name === 'default') return []
    const id = createHash('sha256').update(name).digest('hex')
    const meta = m.readFile(join(configDir, 'contexts', 'meta', id, 'meta.json'))
    if (!meta) return []
    try {
      const host = (JSON.parse(meta) as {Endpoints?: {docker?: {Host?: string; SkipTLSVerify?: boolean}}}).Endpoints
        ?.docker?.Host
      if (!host) return []
      parseEndpointUrl(host, `docker context "${name}"`)
      const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker')
      const tls =
        host.startsWith('tcp://') && m.exists(tlsDir)
          ? {ca: join(tlsDir, 'ca.pem'), cert: join(tlsDir, 'cert.pem'), key: join(tlsDir, 'key.pem'), verify: true}
          : undefined
      return [{endpoint: endpoint(host, `docker context "${name}"`, tls), explicit: true, runtime: 'docker'}]
    } catch (error) {
      if ((error as {code?: string}).code === 'USAGE') throw error
      return []
    }
  },
  name: 'docker context',
  runtime: 'docker',
}

/** The usual Docker socket locations, per platform. */
export const dockerSockets: Strategy = {
  candidates(m) {
    const paths: Array<[string, string]> = []
    const home = m.homedir
    if (m.platform === 'win32') {
      return [
        {
          endpoint: endpoint('npipe:////./pipe/docker_engine', 'Docker Desktop named pipe'),
          explicit: false,
          runtime: 'docker',
        },
      ]
    }

    if (m.platform === 'linux') {
      paths.push(['/var/run/docker.sock', 'default socket'])
      const runtimeDir = m.env.XDG_RUNTIME_DIR || (m.uid === undefined ? undefined : `/run/user/${m.uid}`)
      if (runtimeDir) paths.push([join(runtimeDir, 'docker.sock'), 'rootless Docker'])
      paths.push([join(home, '.docker', 'desktop', 'docker.sock'), 'Docker Desktop for Linux'])
    } else {
      paths.push(
        [join(home, '.docker', 'run', 'docker.sock'), 'Docker Desktop'],
        ['/var/run/docker.sock', 'default socket'],
      )
    }

    paths.push(
      [join(home, '.colima', 'default', 'docker.sock'), 'Colima'],
      [join(home, '.colima', 'docker.sock'), 'Colima'],
      [join(home, '.orbstack', 'run', 'docker.sock'), 'OrbStack'],
      [join(home, '.rd', 'docker.sock'), 'Rancher Desktop'],
    )
    const seen = new Set<string>()
    return paths
      .filter(([p]) => !seen.has(p) && seen.add(p))
      .map(([p, source]) => ({endpoint: endpoint(unix(p), source), explicit: false, runtime: 'docker'}))
  },
  name: 'Docker sockets',
  runtime: 'docker',
}

/** CONTAINER_HOST is Podman's DOCKER_HOST. */
export const podmanHostEnv: Strategy = {
  candidates: (m) => fromEnv('podman', 'CONTAINER_HOST', m),
  name: 'CONTAINER_HOST',
  runtime: 'podman',
}

/** Podman's API sockets: rootless and rootful on Linux, Podman machine's forwarded socket on macOS/Windows. */
export const podmanSockets: Strategy = {
  candidates(m) {
    const out: Candidate[] = []
    const add = (p: string, source: string) =>
      out.push({endpoint: endpoint(unix(p), source), explicit: false, runtime: 'podman'})
    if (m.platform === 'linux') {
      if (m.uid === 0) {
        add('/run/podman/podman.sock', 'rootful Podman socket')
      } else {
        const runtimeDir = m.env.XDG_RUNTIME_DIR || (m.uid === undefined ? undefined : `/run/user/${m.uid}`)
        if (runtimeDir) add(join(runtimeDir, 'podman', 'podman.sock'), 'rootless Podman socket')
        add('/run/podman/podman.sock', 'rootful Podman socket')
      }
    } else if (m.platform === 'darwin') {
      const dataHome = m.env.XDG_DATA_HOME || join(m.homedir, '.local', 'share')
      add(join(dataHome, 'containers', 'podman', 'machine', 'podman.sock'), 'Podman machine')
      add(join(dataHome, 'containers', 'podman', 'machine', 'podman-machine-default', 'podman.sock'), 'Podman machine')
      add(join(dataHome, 'containers', 'podman', 'machine', 'qemu', 'podman.sock'), 'Podman machine')
      add(join(dataHome, 'containers', 'podman', 'machine', 'applehv', 'podman.sock'), 'Podman machine')
    } else if (m.platform === 'win32') {
      out.push({
        endpoint: endpoint('npipe:////./pipe/podman-machine-default', 'Podman machine named pipe'),
        explicit: false,
        runtime: 'podman',
      })
    }

    return out
  },
  name: 'Podman sockets',
  runtime: 'podman',
}

/**
 * Linux with the podman binary but no API socket running (the common case):
 * stigmer starts `podman system service` on a socket of its own, which exits
 * after a few idle minutes.
 */
export function podmanService(runDir: string): Strategy {
  return {
    candidates(m) {
      if (m.platform !== 'linux' || !m.which('podman')) return []
      return [
        {
          endpoint: endpoint(unix(join(runDir, 'podman.sock')), 'podman system service started by stigmer'),
          explicit: false,
          runtime: 'podman',
          spawnable: true,
        },
      ]
    },
    name: 'podman system service',
    runtime: 'podman',
  }
}

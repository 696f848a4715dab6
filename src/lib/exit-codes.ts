/**
 * The exit codes stigmer returns: the one table. docs/exit-codes.md is checked
 * against it by test/unit/lib/exit-codes.test.ts.
 */
export const ExitCode = {
  OK: 0,
  GENERAL: 1,
  USAGE: 2,
  NOT_RUNNING: 3,
  NOT_HEALTHY: 4,
  NO_RUNTIME: 10,
  RUNTIME_UNREACHABLE: 11,
  RUNTIME_PERMISSION: 12,
  IMAGE_NOT_FOUND: 20,
  PULL_FAILED: 21,
  BUILD_FAILED: 22,
  PUSH_FAILED: 23,
  REGISTRY_AUTH: 24,
  CREDENTIAL_STORE: 25,
  CONTAINER_UNHEALTHY: 30,
  START_TIMEOUT: 31,
  CONTAINER_EXITED: 32,
  NO_CONTAINER: 33,
  LOCKED: 34,
  TEMPORAL_UNREACHABLE: 40,
  WORKSPACE: 41,
  CONFIG: 50,
  PLUGIN: 60,
  INTERRUPTED: 130,
} as const

export type ExitCodeName = keyof typeof ExitCode

export const EXIT_CODE_DESCRIPTIONS: Record<ExitCodeName, string> = {
  OK: 'Success (for `server status`: the container is running and healthy).',
  GENERAL: 'An unexpected error: a bug in stigmer or an engine error it does not know. Please report it.',
  USAGE:
    'Bad flags, arguments or environment values (unknown `--runtime`, malformed `DOCKER_HOST`, invalid version, `--since` before 1970), or a state file that names an unknown runtime.',
  NOT_RUNNING: '`server status`: no agent-runner container, or it is not running.',
  NOT_HEALTHY: '`server status`: the container runs but is not healthy (starting or unhealthy).',
  NO_RUNTIME: 'No container engine is installed (neither Docker nor Podman was found).',
  RUNTIME_UNREACHABLE:
    'An engine is installed but not running or not answering, the endpoint you named (`DOCKER_HOST`, `CONTAINER_HOST`, a docker context, `--runtime`) does not answer (no other engine is used in its place), the engine that started the container is gone, or the engine stopped answering during the command.',
  RUNTIME_PERMISSION: 'The engine socket exists but this user may not use it.',
  IMAGE_NOT_FOUND:
    'The image is not present locally and cannot be found in the registry (or `--pull never` / `--use-local-image` and it is absent).',
  PULL_FAILED: 'Pulling the image failed (network, timeout, or the registry reported an error).',
  BUILD_FAILED: 'Building the image failed; the failing step and its output are shown.',
  PUSH_FAILED: 'Pushing the image failed.',
  REGISTRY_AUTH: 'The registry refused the credentials (401/403), or none were found.',
  CREDENTIAL_STORE:
    "Credentials cannot be kept or removed on this machine (`image login`, `image logout`): the credential helper Docker's config.json or Podman's auth.json names is missing or failed (`code` `CREDENTIAL_HELPER`), or that file is not valid JSON (`AUTH_FILE_INVALID`) or cannot be written (`AUTH_FILE_UNWRITABLE`).",
  CONTAINER_UNHEALTHY: 'The container reported unhealthy while starting.',
  START_TIMEOUT: 'The container did not become healthy within `--timeout`.',
  CONTAINER_EXITED: 'The container exited (or was OOM-killed) while starting.',
  NO_CONTAINER: 'There is no agent-runner container to act on (`server logs`).',
  LOCKED:
    'Another stigmer process holds the server lock and did not release it in time, or the lock cannot be taken (a file is in the way of `~/.stigmer/state`).',
  TEMPORAL_UNREACHABLE: 'Temporal does not answer at the configured address and `--require-temporal` was given.',
  WORKSPACE:
    "The workspace folder cannot be created or written, or is unsafe: stigmer's default workspace is a symbolic link, or a folder above it belongs to another user.",
  CONFIG: 'The config file (~/.stigmer/config.yaml) is invalid, or larger than 1 MiB.',
  PLUGIN: '`plugins install`: no such plugin on the npm registry, the package is not a stigmer plugin, or npm failed.',
  INTERRUPTED: 'Interrupted (Ctrl-C / SIGINT); anything this run created was cleaned up.',
}

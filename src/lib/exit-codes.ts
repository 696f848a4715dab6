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

/** What one code means for one command: the code's name, and the command's own words for it. */
export type CommandExit = readonly [ExitCodeName, string]

const ENGINE: readonly CommandExit[] = [
  ['NO_RUNTIME', 'no container engine is installed'],
  ['RUNTIME_UNREACHABLE', 'the engine is not running, or the endpoint you named does not answer'],
  ['RUNTIME_PERMISSION', 'the engine socket exists but this user may not use it'],
]

/**
 * The exit codes of each command, by command id: the one list its `--help`
 * (the EXIT CODES section, src/help.ts) and the "Per command" table of
 * docs/exit-codes.md are generated from. test/unit/lib/exit-codes.test.ts
 * checks both, and that every command is listed.
 */
export const COMMAND_EXIT_CODES: Readonly<Record<string, readonly CommandExit[]>> = {
  doctor: [
    ['OK', 'no check fails (warnings are fine)'],
    ['USAGE', "--runtime, STIGMER_CONTAINER_RUNTIME, the config's runtime, or DOCKER_HOST is invalid"],
    ['NO_RUNTIME', 'no container engine is installed; the report says how to install one'],
    [
      'RUNTIME_UNREACHABLE',
      'no engine answers, or the one you named (DOCKER_HOST, CONTAINER_HOST, a docker context) does not, even if another does',
    ],
    ['RUNTIME_PERMISSION', 'an engine socket exists but this user may not open it'],
    ['WORKSPACE', 'the workspace folder cannot be created or written'],
    ['CONFIG', 'the config file is invalid'],
  ],
  'image build': [
    ['OK', 'built'],
    [
      'USAGE',
      'no pyproject.toml in --source, no entry point found or several to choose from, a path dependency missing or outside the repository, bad --entrypoint, --version, --build-arg, --platform, --tag, missing --source or --file',
    ],
    ...ENGINE,
    ['BUILD_FAILED', 'the build failed: the failing step, its instruction and its last output lines are shown'],
    ['INTERRUPTED', 'interrupted (Ctrl-C)'],
  ],
  'image login': [
    ['OK', 'logged in'],
    ['GENERAL', 'the registry could not be reached'],
    ['USAGE', 'no --username, empty password, bad registry name'],
    ...ENGINE,
    ['REGISTRY_AUTH', 'the registry refused the credentials'],
    [
      'CREDENTIAL_STORE',
      "the credentials cannot be kept on this machine (CREDENTIAL_HELPER: the credential helper your config names is missing or failed; AUTH_FILE_INVALID: Docker's config.json or Podman's auth.json is not valid JSON, checked before the password is asked for; AUTH_FILE_UNWRITABLE)",
    ],
    ['INTERRUPTED', 'interrupted (Ctrl-C)'],
  ],
  'image logout': [
    ['OK', 'logged out, or there was nothing to remove (the output says which)'],
    ['USAGE', 'bad registry name, --runtime other than docker or podman'],
    [
      'CREDENTIAL_STORE',
      'a store cannot be changed (CREDENTIAL_HELPER, AUTH_FILE_INVALID, AUTH_FILE_UNWRITABLE, as for image login); no engine needed',
    ],
  ],
  'image pull': [
    ['OK', 'pulled'],
    [
      'USAGE',
      'bad --version, --image or --pull-timeout; a digest that is not sha256: and 64 hex digits, a name over 255 or a tag over 128 characters',
    ],
    ...ENGINE.slice(0, 1),
    ['RUNTIME_UNREACHABLE', 'the engine is not running, or stopped during the pull (no retries then)'],
    ...ENGINE.slice(2),
    ['IMAGE_NOT_FOUND', 'not found in the registry'],
    ['PULL_FAILED', 'the pull failed or timed out'],
    ['REGISTRY_AUTH', 'the registry refused the credentials'],
    ['INTERRUPTED', 'interrupted (Ctrl-C)'],
  ],
  'image push': [
    ['OK', 'pushed (or dry run)'],
    [
      'USAGE',
      'invalid --version, or one whose tag would be over 128 characters, --repository with a tag, no way to name a development push: refused before anything is pushed',
    ],
    ...ENGINE,
    ['IMAGE_NOT_FOUND', 'no such local image'],
    ['PUSH_FAILED', 'the push failed'],
    [
      'REGISTRY_AUTH',
      'the registry refused the credentials (or there were none): the message names the registry and the user, and how to log in',
    ],
    ['INTERRUPTED', 'interrupted (Ctrl-C)'],
  ],
  'plugins install': [
    ['OK', 'installed'],
    ['USAGE', 'an invalid name'],
    [
      'PLUGIN',
      'PLUGIN_NOT_FOUND (a short name is only ever @stigmer/plugin-<name>), PLUGIN_INVALID (not a stigmer plugin) or PLUGIN_INSTALL_FAILED (npm failed: its output and the command)',
    ],
  ],
  'server export': [
    ['OK', 'written'],
    ['USAGE', 'bad flags, including a localhost Temporal or backend address for Kubernetes'],
    ...ENGINE,
    ['IMAGE_NOT_FOUND', 'image not found'],
    ['PULL_FAILED', 'pull failed'],
    ['REGISTRY_AUTH', 'the registry refused the credentials'],
    ['INTERRUPTED', 'interrupted (Ctrl-C)'],
  ],
  'server logs': [
    ['OK', 'ok (also after Ctrl-C while following)'],
    ['USAGE', 'bad flags (or a --since before 1970)'],
    ...ENGINE.slice(0, 1),
    ['RUNTIME_UNREACHABLE', 'the engine is not running, or stopped while following'],
    ...ENGINE.slice(2),
    ['NO_CONTAINER', 'there is no agent-runner container (start it with "stigmer server start")'],
  ],
  'server start': [
    ['OK', 'ready (or already running)'],
    ['USAGE', 'bad flags (a bad --timeout or --pull-timeout among them)'],
    ...ENGINE.slice(0, 1),
    [
      'RUNTIME_UNREACHABLE',
      'the engine is not running, or stopped during the start (a container it could not remove then is named)',
    ],
    ...ENGINE.slice(2),
    ['IMAGE_NOT_FOUND', 'image not found (also --pull never or --use-local-image and it is absent)'],
    ['PULL_FAILED', 'pull failed or timed out'],
    ['REGISTRY_AUTH', 'the registry refused the credentials'],
    ['CONTAINER_UNHEALTHY', 'the container reported unhealthy'],
    [
      'START_TIMEOUT',
      'not ready, or not registered with --wait-for registered, within --timeout; the message says when Temporal is the reason',
    ],
    ['CONTAINER_EXITED', 'the container exited'],
    ['LOCKED', "another stigmer command holds the lock (also a file in the lock's way)"],
    ['TEMPORAL_UNREACHABLE', 'Temporal does not answer and --require-temporal was given'],
    [
      'WORKSPACE',
      'the workspace cannot be created or written, or is unsafe (a link, or a folder above it owned by another user)',
    ],
    ['INTERRUPTED', 'interrupted (Ctrl-C): a container this run created is removed'],
  ],
  'server status': [
    ['OK', 'running and healthy (or running, for an image without a health check)'],
    ['USAGE', 'bad flags'],
    ['NOT_RUNNING', 'not running (absent, created, exited)'],
    ['NOT_HEALTHY', 'running but starting or unhealthy'],
    ...ENGINE.slice(0, 1),
    [
      'RUNTIME_UNREACHABLE',
      'the engine is not running, or DOCKER_HOST, CONTAINER_HOST or the docker context names one that does not answer (never 3 from another engine: stigmer does not look at another engine instead)',
    ],
    ...ENGINE.slice(2),
  ],
  'server stop': [
    ['OK', 'stopped, or nothing was running'],
    ['USAGE', 'bad flags'],
    ...ENGINE,
    ['LOCKED', 'another stigmer command holds the lock'],
    ['INTERRUPTED', 'interrupted (Ctrl-C) while waiting for the lock'],
  ],
  version: [
    ['OK', 'shown, with or without an engine'],
    ['USAGE', 'bad flags'],
  ],
}

/** The EXIT CODES rows of one command's help: [code, what it means here]. */
export function exitCodeRows(commandId: string): Array<[string, string]> | undefined {
  const list = COMMAND_EXIT_CODES[commandId.replaceAll(':', ' ')]
  return list?.map(([name, text]) => [String(ExitCode[name]), `${text} (${name})`])
}

/** One command's cell in docs/exit-codes.md's "Per command" table. */
export function exitCodesCell(commandId: string): string {
  return (COMMAND_EXIT_CODES[commandId] ?? []).map(([name, text]) => `${ExitCode[name]} ${text}`).join('<br>')
}

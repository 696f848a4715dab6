import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {runtimeFlag} from '../../lib/flags.js'
import {durationFlag, specInputsFromFlags} from '../../server/inputs.js'
import {type StartResult, startServer, type WaitFor} from '../../server/lifecycle.js'
import {taskUiFor, type TaskUi} from '../../ui/tasks.js'

export default class ServerStart extends StigmerCommand {
  static override description = `Starts the agent-runner container (named stigmer-agent-runner) and returns once it is healthy.

Ready means the image's health check passes: the runner's own processes hold an established connection to the Temporal frontend in TEMPORAL_SERVICE_ADDRESS (docs/docker.md, "Readiness"). So the agent-runner becomes ready only while Temporal answers. Before starting, stigmer asks Temporal itself (a gRPC call, GetSystemInfo) and warns when it does not answer (--require-temporal: refuses, exit 40). --wait-for registered also waits until Temporal lists a poller on the runner's task queue (DescribeTaskQueue).

Image: --use-local-image (the dev image "stigmer image build" tags), else --image or STIGMER_AGENT_RUNNER_IMAGE, else "image" in ~/.stigmer/config.yaml, else the image pinned to this CLI version (ghcr.io/stigmer/agent-runner:v<version>), pulled on first use with a one-time-setup message. Never "latest".

Networking: host networking on Linux, so localhost:7233 (Temporal) and localhost:7234 (the backend) reach this machine; bridge networking with host addresses rewritten to host.docker.internal / host.containers.internal where the engine runs in a VM (Docker Desktop, Podman machine). --network overrides.

Workspace: ~/.stigmer/data/workspace (or --workspace) is mounted at /workspace, created by the CLI as you, and files written there stay yours. stop never deletes it.

Environment: MODE, SANDBOX_TYPE, SANDBOX_ROOT_DIR, TEMPORAL_*, STIGMER_BACKEND_ENDPOINT, STIGMER_LLM_*, OLLAMA_BASE_URL, the API keys (only when set) and LOG_LEVEL: from flags, then your environment, then "env:" in the config file, then defaults (docs/container-mode.md). Pass secrets through your environment (or --env NAME without a value), never on the command line: they never appear in output.

Running it again is safe: an identical running container is kept; a changed or stopped one is replaced; concurrent starts wait for each other. Ctrl-C removes a container this run created and exits 130.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --use-local-image',
    '<%= config.bin %> <%= command.id %> --runtime podman --timeout 5m',
    'ANTHROPIC_API_KEY=... <%= config.bin %> <%= command.id %> --llm-provider anthropic --llm-model claude-sonnet-4',
    '<%= config.bin %> <%= command.id %> --json',
  ]
  static override flags = {
    'backend-endpoint': Flags.string({
      description: 'Stigmer backend host:port (STIGMER_BACKEND_ENDPOINT). Default localhost:7234.',
      helpGroup: 'AGENT-RUNNER',
    }),
    env: Flags.string({
      description:
        'Extra environment for the container: KEY=VALUE, or KEY to pass your own value of KEY (use that for secrets). Repeatable.',
      multiple: true,
    }),
    image: Flags.string({
      description: 'Image to run instead of the pinned one (also STIGMER_AGENT_RUNNER_IMAGE).',
      exclusive: ['use-local-image'],
      helpGroup: 'IMAGE',
    }),
    'llm-base-url': Flags.string({
      description: 'LLM base URL, e.g. http://localhost:11434 for Ollama (STIGMER_LLM_BASE_URL and OLLAMA_BASE_URL).',
      helpGroup: 'AGENT-RUNNER',
    }),
    'llm-model': Flags.string({description: 'LLM model (STIGMER_LLM_MODEL).', helpGroup: 'AGENT-RUNNER'}),
    'llm-provider': Flags.string({description: 'LLM provider (STIGMER_LLM_PROVIDER).', helpGroup: 'AGENT-RUNNER'}),
    'log-level': Flags.string({
      description: 'Agent-runner log level (LOG_LEVEL). Default INFO.',
      helpGroup: 'AGENT-RUNNER',
    }),
    network: Flags.string({
      description: 'host or bridge. Default: host on Linux, bridge where the engine runs in a VM.',
      options: ['host', 'bridge'],
    }),
    pull: Flags.string({
      description: 'When to pull the image: missing (default), always, never.',
      helpGroup: 'IMAGE',
      options: ['missing', 'always', 'never'],
    }),
    'pull-timeout': Flags.string({description: 'Give up pulling after this long (default 5m).', helpGroup: 'IMAGE'}),
    'require-temporal': Flags.boolean({
      description: 'Fail (exit 40) instead of warning when Temporal does not answer.',
    }),
    runtime: runtimeFlag,
    'temporal-address': Flags.string({
      description: 'Temporal host:port (TEMPORAL_SERVICE_ADDRESS). Default localhost:7233.',
      helpGroup: 'AGENT-RUNNER',
    }),
    'temporal-namespace': Flags.string({
      description: 'Temporal namespace (TEMPORAL_NAMESPACE). Default "default".',
      helpGroup: 'AGENT-RUNNER',
    }),
    timeout: Flags.string({description: 'How long to wait for the container to become healthy (default 120s).'}),
    'wait-for': Flags.string({
      default: 'connected',
      description:
        'connected: until the image health check passes (the runner holds a connection to Temporal); registered: also until Temporal lists a poller on its task queue.',
      options: ['connected', 'registered'],
    }),
    'use-local-image': Flags.boolean({
      description: 'Run the development image built by "stigmer image build".',
      helpGroup: 'IMAGE',
    }),
    workspace: Flags.string({description: 'Host folder mounted at /workspace (default ~/.stigmer/data/workspace).'}),
  }
  static override needsRuntime = true
  static override summary = 'Start the agent-runner container and wait until it is healthy.'
  static override useRememberedRuntime = true
  private ui: TaskUi | undefined

  async run(): Promise<StartResult> {
    const {flags} = await this.parse(ServerStart)
    const {config, paths, ...common} = await specInputsFromFlags(flags, this.config.version)
    const timeout = durationFlag('timeout', flags.timeout) ?? config.startTimeoutSeconds ?? 120
    const {runtime} = await this.runtime(flags.runtime)
    this.ui = taskUiFor({json: this.jsonEnabled()})
    const result = await startServer({
      ...common,
      cliVersion: this.config.version,
      json: this.jsonEnabled(),
      paths,
      requireTemporal: flags['require-temporal'],
      runtime,
      signal: this.signal,
      timeoutMs: timeout * 1000,
      ui: this.ui,
      waitFor: flags['wait-for'] as WaitFor,
    })
    // The list is drawn to its end before the result is printed.
    await this.ui.stop()
    const verb = {'already-running': 'is already running', replaced: 'was replaced and is ready', started: 'is ready'}[
      result.status
    ]
    this.log(`Agent-runner ${verb}.`)
    this.log(`  container  ${result.containerName} (${result.containerId.slice(0, 12)}) on ${runtime.displayName}`)
    this.log(`  image      ${result.image}${result.imageDigest ? ` (${result.imageDigest.slice(0, 19)})` : ''}`)
    this.log(`  network    ${result.network}: ${result.networkReason}`)
    if (result.registered)
      this.log(
        `  temporal   registered: ${result.registered.pollers.length} poller(s) on ${result.registered.taskQueue} (namespace ${result.registered.namespace}) at ${result.registered.address}`,
      )
    this.log(`  workspace  ${result.workspace} -> /workspace`)
    this.log(`  logs       ${result.logsCommand}    stop: stigmer server stop`)
    return result
  }

  protected override async stopProgress(): Promise<void> {
    await this.ui?.stop()
  }
}

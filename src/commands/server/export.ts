import * as Flags from '@oclif/core/flags'

import {StigmerCommand} from '../../base-command.js'
import {usageError} from '../../lib/errors.js'
import {DEFAULT_EXPORT_NAME, type ExportFormat, type ExportResult, exportServer} from '../../server/export.js'
import {specInputsFromFlags} from '../../server/inputs.js'
import {taskUiFor, type TaskUi} from '../../ui/tasks.js'
import ServerStart from './start.js'

const shared = ServerStart.flags

export default class ServerExport extends StigmerCommand {
  static override description = `Writes the agent-runner that "server start" would run as a Kubernetes manifest or a Compose file, for a team server or a cluster. The container spec comes from the same code as "server start", with the same flags, config file and environment: image (by digest when it is known), environment, workspace, user, health check, stop signal and grace period.

Kubernetes (apps/v1): a Deployment (UID/GID 1000, fsGroup 1000, runAsNonRoot, no privilege escalation, all capabilities dropped, readiness and liveness probes that run the image's own health check, terminationGracePeriodSeconds as "server stop", resource requests), a ConfigMap for the environment, a Secret for the secret variables, and a PersistentVolumeClaim for /workspace (ReadWriteMany when --replicas > 1; --workspace-per-pod gives each pod its own claim instead). Temporal and backend addresses that name this machine (localhost, host.docker.internal) are refused: give --temporal-address and --backend-endpoint.

Compose: one service with the same image and environment, the secret variables in an env file it names, a "workspace" volume, user 1000:1000, the health check, stop_signal, stop_grace_period, and the network mode "server start" picks on this machine.

Secrets: values are written only with --include-secrets, into files of mode 0600 (the Secret manifest, the Compose env file); otherwise the keys are there with empty values and a comment says how to fill them. Under --json the result lists files and objects, never values.

Output: stdout, or --output FILE, or --output DIR/ for one file per object (Kubernetes) or compose.yaml plus its env file.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --format compose --output deploy/',
    '<%= config.bin %> <%= command.id %> --format kubernetes --temporal-address temporal-frontend.temporal:7233 --backend-endpoint stigmer-backend:7234 > agent-runner.yaml',
    '<%= config.bin %> <%= command.id %> --format kubernetes --replicas 3 --temporal-address temporal:7233 --backend-endpoint backend:7234 --output k8s/',
    'ANTHROPIC_API_KEY=... <%= config.bin %> <%= command.id %> --format compose --include-secrets --output deploy/ --json',
  ]
  static override flags = {
    'backend-endpoint': shared['backend-endpoint'],
    'cpu-request': Flags.string({
      default: '250m',
      description: 'Kubernetes: CPU request of each pod.',
      helpGroup: 'KUBERNETES',
    }),
    env: shared.env,
    format: Flags.string({
      char: 'f',
      description: 'kubernetes or compose.',
      options: ['kubernetes', 'compose'],
      required: true,
    }),
    image: shared.image,
    'include-secrets': Flags.boolean({
      description: 'Write secret values (API keys) into the export; files holding them are mode 0600.',
    }),
    'llm-base-url': shared['llm-base-url'],
    'llm-model': shared['llm-model'],
    'llm-provider': shared['llm-provider'],
    'log-level': shared['log-level'],
    'memory-request': Flags.string({
      default: '512Mi',
      description: 'Kubernetes: memory request of each pod.',
      helpGroup: 'KUBERNETES',
    }),
    name: Flags.string({
      default: DEFAULT_EXPORT_NAME,
      description:
        'Kubernetes object names (and app.kubernetes.io/instance); the Compose env file is NAME.secrets.env.',
    }),
    network: shared.network,
    output: Flags.string({
      char: 'o',
      description:
        'Write here instead of stdout: a file, or a folder (existing, or ending in /) for one file per object.',
    }),
    pull: shared.pull,
    'pull-timeout': shared['pull-timeout'],
    replicas: Flags.integer({
      default: 1,
      description: 'How many agent-runners (Deployment replicas; Compose deploy.replicas).',
      min: 1,
    }),
    runtime: shared.runtime,
    storage: Flags.string({
      default: '10Gi',
      description: 'Kubernetes: size of the workspace claim.',
      helpGroup: 'KUBERNETES',
    }),
    'storage-class': Flags.string({
      description: 'Kubernetes: storage class of the workspace claim.',
      helpGroup: 'KUBERNETES',
    }),
    'temporal-address': shared['temporal-address'],
    'temporal-namespace': shared['temporal-namespace'],
    'use-local-image': shared['use-local-image'],
    workspace: shared.workspace,
    'workspace-per-pod': Flags.boolean({
      description:
        'Kubernetes: each pod gets its own workspace claim (deleted with the pod) instead of one shared claim.',
      helpGroup: 'KUBERNETES',
    }),
  }
  static override needsRuntime = true
  static override summary = 'Export the agent-runner as a Kubernetes manifest or a Compose file.'
  private ui: TaskUi | undefined

  async run(): Promise<ExportResult> {
    const {flags} = await this.parse(ServerExport)
    // Flags, the config file and the environment, exactly as `server start` reads them.
    const common = await specInputsFromFlags(flags, this.config.version)
    if (!/^[a-z\d]([a-z\d-]{0,50}[a-z\d])?$/.test(flags.name))
      throw usageError(`--name "${flags.name}" is not a valid name.`, [
        'Use lower-case letters, digits and "-", at most 52 characters, e.g. --name agent-runner-team',
      ])
    const {runtime} = await this.runtime(flags.runtime)
    this.ui = taskUiFor({json: this.jsonEnabled()})
    const {rendered, result} = await exportServer({
      ...common,
      json: this.jsonEnabled(),
      options: {
        cpuRequest: flags['cpu-request'],
        format: flags.format as ExportFormat,
        includeSecrets: flags['include-secrets'],
        memoryRequest: flags['memory-request'],
        name: flags.name,
        perPodWorkspace: flags['workspace-per-pod'],
        replicas: flags.replicas,
        storage: flags.storage,
        storageClass: flags['storage-class'],
      },
      output: flags.output,
      runtime,
      signal: this.signal,
      ui: this.ui,
    })
    await this.ui.stop()
    if (!flags.output) {
      // The manifest is the result: straight to stdout (unredacted: the secret values are there only with --include-secrets).
      if (!this.jsonEnabled()) process.stdout.write(rendered.combined.content)
      return {...result, ...(rendered.combined.secret ? {} : {content: rendered.combined.content})}
    }

    for (const file of result.files)
      this.log(`wrote ${file.path} (mode ${file.mode}${file.secret ? ', secret values' : ''})`)
    for (const file of result.filesToCreate)
      this.log(
        `create ${file} yourself with the secret variables (${result.secretNames.join(', ')}); see the comment in the compose file`,
      )
    return result
  }

  protected override async stopProgress(): Promise<void> {
    await this.ui?.stop()
  }
}

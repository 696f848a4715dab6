/**
 * `stigmer server export` proven on the real engines of the lab: the exported
 * Kubernetes manifest runs with `podman kube play` (Podman) and the exported
 * Compose file with Debian's `docker-compose` (Docker). There is no cluster
 * here: the Kubernetes objects are otherwise only validated against their
 * schemas (test/unit/server/export.test.ts).
 *
 * The image is a small one built here from the lab's busybox, with a
 * HEALTHCHECK and a /workspace owned by 1000 (as docker/Dockerfile makes it),
 * so the test does not depend on the agent-runner's own health check.
 */
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import semver from 'semver'
import {parseAllDocuments} from 'yaml'

import {
  busyboxImage,
  healthyAfter,
  loadLab,
  requireEngines,
  runCli,
  runtimeFor,
  tempDir,
  uniqueName,
  useCleanup,
  waitFor,
} from '../helpers/lab.js'
import {engineEnv, fakeSecret} from '../helpers/server-images.js'

interface ExportJson {
  files: Array<{mode: string; path: string; secret: boolean}>
  filesToCreate: string[]
  format: string
  image: string
  network: string
  objects: Array<{kind: string; name: string}>
  secretNames: string[]
}

interface Run {
  code: number
  stderr: string
  stdout: string
}

/** Runs a program (never through a shell) and collects its output; rejects only when it cannot start. */
async function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, {env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000}, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      if (error && typeof error.code === 'string') reject(error)
      else resolve({code, stderr, stdout})
    })
  })
}

async function ok(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(cmd, args, env)
  if (result.code !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`)
  return result.stdout
}

/** The test image: /workspace owned by 1000 (as docker/Dockerfile), USER 1000, healthy a second after start. */
const imageOptions = {
  ...healthyAfter(1),
  lines: ['USER 0', 'RUN mkdir -p /workspace && chown 1000:1000 /workspace'],
  user: '1000:1000',
}

describe('server export on real engines', function () {
  this.timeout(600_000)
  useCleanup()

  describe('Kubernetes manifest with podman kube play', () => {
    requireEngines(['podman'])

    it('runs: the pod reaches running, /workspace is the claim, the environment is what the export wrote', async () => {
      const podman = runtimeFor('podman')
      const lab = loadLab()
      const ref = await busyboxImage(podman, imageOptions)
      const name = uniqueName('export-k8s')
      const secret = fakeSecret('sk-export')
      const out = tempDir('export-k8s')
      const cli = await runCli(
        [
          'server',
          'export',
          '--format',
          'kubernetes',
          '--runtime',
          'podman',
          '--image',
          ref,
          '--name',
          name,
          '--temporal-address',
          'temporal.example.internal:7233',
          '--backend-endpoint',
          'stigmer-backend.example.internal:7234',
          '--llm-provider',
          'anthropic',
          '--include-secrets',
          '--output',
          `${out}/`,
          '--json',
        ],
        {env: {...engineEnv('podman'), ANTHROPIC_API_KEY: secret}, timeoutMs: 120_000},
      )
      expect(cli.code, cli.stderr).to.equal(0)
      expect(cli.stdout).not.to.include(secret)
      expect(cli.stderr).not.to.include(secret)
      const result = cli.json as ExportJson
      expect(result.objects.map((o) => o.kind)).to.deep.equal([
        'ConfigMap',
        'Secret',
        'PersistentVolumeClaim',
        'Deployment',
      ])
      const secretFile = result.files.find((f) => f.secret)!
      expect(secretFile.path).to.equal(join(out, 'secret.yaml'))
      expect(statSync(secretFile.path).mode % 0o1000).to.equal(0o600)

      const read = (file: string) => readFileSync(join(out, file), 'utf8')
      const deployment = parseAllDocuments(read('deployment.yaml'))[0]!.toJS()
      const container = deployment.spec.template.spec.containers[0]
      const podmanEnv = {...process.env, CONTAINER_HOST: `unix://${lab.podmanSock ?? '/run/podman/podman.sock'}`}
      const version = (await ok('podman', ['version', '--format', '{{.Client.Version}}'])).trim()
      // Podman before 4.4 stores a Secret object of a kube file in a form its own envFrom
      // cannot read back ("secret ... is not valid JSON"): there, the exported Secret is
      // handed to Podman as the JSON map of base64 values it reads, and the other objects
      // are played as exported. From 4.4 on, the whole export is played.
      const oldPodman = semver.valid(semver.coerce(version)) && semver.lt(semver.coerce(version)!, '4.4.0')
      const files = oldPodman
        ? ['configmap.yaml', 'persistentvolumeclaim.yaml', 'deployment.yaml']
        : ['configmap.yaml', 'secret.yaml', 'persistentvolumeclaim.yaml', 'deployment.yaml']
      const kubeFile = join(out, 'play.yaml')
      writeFileSync(kubeFile, files.map((f) => read(f)).join('---\n'))
      const secretName = `${name}-secrets`
      if (oldPodman) {
        const exported = parseAllDocuments(read('secret.yaml'))[0]!.toJS() as {stringData: Record<string, string>}
        const data = Object.fromEntries(
          Object.entries(exported.stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        )
        const secretJson = join(out, 'podman-secret.json')
        writeFileSync(secretJson, JSON.stringify(data), {mode: 0o600})
        await ok('podman', ['secret', 'create', secretName, secretJson], podmanEnv)
      }

      try {
        await ok('podman', ['kube', 'play', kubeFile], podmanEnv)
        const containerName = await waitFor(
          'the agent-runner container of the pod',
          async () => {
            const names = await ok('podman', ['ps', '--filter', `name=^${name}-pod`, '--format', '{{.Names}}'])
            return names.split('\n').find((n) => n.endsWith('-agent-runner'))
          },
          {timeoutMs: 60_000},
        )
        const state = await ok('podman', ['inspect', containerName, '--format', '{{.State.Status}} {{.Config.User}}'])
        expect(state.trim()).to.equal('running 1000:1000')
        const exec = (args: string[]) => ok('podman', ['exec', containerName, ...args])
        // The environment, read back from inside: the ConfigMap and the Secret.
        const env = Object.fromEntries(
          (await exec(['env']))
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        )
        expect(env).to.include({
          ANTHROPIC_API_KEY: secret,
          MODE: 'local',
          SANDBOX_ROOT_DIR: '/workspace',
          SANDBOX_TYPE: 'filesystem',
          STIGMER_BACKEND_ENDPOINT: 'stigmer-backend.example.internal:7234',
          STIGMER_LLM_PROVIDER: 'anthropic',
          TEMPORAL_SERVICE_ADDRESS: 'temporal.example.internal:7233',
        })
        // The workspace is the claim's volume, mounted and writable by UID 1000.
        expect(await exec(['id', '-u'])).to.equal('1000\n')
        expect(await exec(['sh', '-c', 'grep " /workspace " /proc/mounts | wc -l'])).to.equal('1\n')
        await exec(['sh', '-c', 'echo kept > /workspace/probe.txt'])
        const volume = await ok('podman', ['volume', 'inspect', `${name}-workspace`, '--format', '{{.Mountpoint}}'])
        expect(readFileSync(join(volume.trim(), 'probe.txt'), 'utf8')).to.equal('kept\n')
        // The exported probe (the image's own check) passes inside the pod.
        await waitFor('the exported readiness probe to pass', async () => {
          const probe = await run('podman', ['exec', containerName, ...container.readinessProbe.exec.command])
          return probe.code === 0
        })
      } finally {
        await run('podman', ['kube', 'down', kubeFile], podmanEnv)
        await run('podman', ['volume', 'rm', '-f', `${name}-workspace`], podmanEnv)
        await run('podman', ['secret', 'rm', secretName], podmanEnv)
      }
    })
  })

  describe('Compose file with docker-compose', () => {
    requireEngines(['docker'])

    it('becomes healthy with the network mode start picks, the secrets from the 0600 env file, user 1000', async () => {
      const docker = runtimeFor('docker')
      const lab = loadLab()
      const ref = await busyboxImage(docker, imageOptions)
      const project = uniqueName('export-compose')
      const secret = fakeSecret('sk-export')
      const out = tempDir('export-compose')
      const cli = await runCli(
        [
          'server',
          'export',
          '--format',
          'compose',
          '--runtime',
          'docker',
          '--image',
          ref,
          '--name',
          project,
          '--include-secrets',
          '--output',
          `${out}/`,
          '--json',
        ],
        {env: {...engineEnv('docker'), ANTHROPIC_API_KEY: secret}, timeoutMs: 120_000},
      )
      expect(cli.code, cli.stderr).to.equal(0)
      expect(cli.stdout).not.to.include(secret)
      const result = cli.json as ExportJson
      expect(result.network).to.equal('host')
      const envFile = join(out, `${project}.secrets.env`)
      expect(result.files.map((f) => [f.path, f.mode])).to.deep.equal([
        [join(out, 'compose.yaml'), '0644'],
        [envFile, '0600'],
      ])
      expect(statSync(envFile).mode % 0o1000).to.equal(0o600)
      expect(readFileSync(join(out, 'compose.yaml'), 'utf8')).not.to.include(secret)

      const composeEnv = {...process.env, DOCKER_HOST: `unix://${lab.dockerSock ?? '/var/run/docker.sock'}`}
      const compose = ['-p', project, '-f', join(out, 'compose.yaml')]
      try {
        await ok('docker-compose', [...compose, 'up', '-d'], composeEnv)
        const id = await waitFor('the compose service container', async () =>
          (await ok('docker-compose', [...compose, 'ps', '-q', 'agent-runner'], composeEnv)).trim(),
        )
        const health = await waitFor(
          'the service to become healthy',
          async () => {
            const status = (
              await ok('docker', ['inspect', id, '--format', '{{.State.Health.Status}}'], composeEnv)
            ).trim()
            if (status === 'unhealthy') throw new Error('the service became unhealthy')
            return status === 'healthy' ? status : undefined
          },
          {timeoutMs: 60_000},
        )
        expect(health).to.equal('healthy')
        const inspect = (
          await ok(
            'docker',
            ['inspect', id, '--format', '{{.HostConfig.NetworkMode}} {{.Config.User}} {{.Config.StopSignal}}'],
            composeEnv,
          )
        ).trim()
        expect(inspect).to.equal('host 1000:1000 SIGTERM')
        const env = await ok('docker', ['exec', id, 'env'], composeEnv)
        expect(env).to.include(`ANTHROPIC_API_KEY=${secret}\n`)
        expect(env).to.include('TEMPORAL_SERVICE_ADDRESS=localhost:7233\n')
        expect(env).to.include('SANDBOX_ROOT_DIR=/workspace\n')
        await ok(
          'docker',
          ['exec', id, 'sh', '-c', 'echo kept > /workspace/probe.txt && grep -c " /workspace " /proc/mounts'],
          composeEnv,
        )
      } finally {
        await run('docker-compose', [...compose, 'down', '-v', '--remove-orphans', '-t', '5'], composeEnv)
      }
    })
  })
})

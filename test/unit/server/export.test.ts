import {Ajv} from 'ajv'
import draft7 from 'ajv/dist/refs/json-schema-draft-07.json' with {type: 'json'}
/* eslint-disable camelcase -- Compose Specification keys */
/* eslint-disable @typescript-eslint/no-explicit-any -- reading into generated manifests */
import {expect} from 'chai'
import {Deployment} from 'kubernetes-models/apps/v1'
import {ConfigMap, PersistentVolumeClaim, Secret} from 'kubernetes-models/v1'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse, parseAllDocuments} from 'yaml'

import {DOCKER_CAPABILITIES} from '../../../src/adapters/capabilities.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {ExitCode} from '../../../src/lib/exit-codes.js'
import {
  addressHost,
  composeProject,
  type ExportImage,
  type ExportOptions,
  isHostLocalAddress,
  kubernetesObjects,
  pinnedReference,
  renderExport,
  writeExport,
} from '../../../src/server/export.js'
import {buildServerSpec, type ServerSpecInput} from '../../../src/server/spec.js'
import composeSchema from '../../fixtures/schemas/compose-spec.json' with {type: 'json'}

const SECRET = 'sk-ant-never-print-me-42'

function spec(over: Partial<ServerSpecInput> = {}) {
  return buildServerSpec({
    configEnv: {},
    engine: {inVm: false, name: 'Docker Engine', rootless: false},
    envFlags: {},
    extraEnv: {},
    gid: 1500,
    hostEnv: {ANTHROPIC_API_KEY: SECRET, HOME: '/home/u'},
    image: {ref: 'ghcr.io/stigmer/agent-runner:v0.1.0'},
    imageUser: '1000:1000',
    platform: 'linux',
    runtime: {capabilities: DOCKER_CAPABILITIES, hostGatewayName: 'host.docker.internal', name: 'docker'},
    uid: 1500,
    workspace: '/home/u/.stigmer/data/workspace',
    ...over,
  })
}

const inCluster = {
  envFlags: {STIGMER_BACKEND_ENDPOINT: 'stigmer-backend:7234', TEMPORAL_SERVICE_ADDRESS: 'temporal-frontend:7233'},
}

const image: ExportImage = {
  digest: 'sha256:5d1c0f3e9a2b5d1c0f3e9a2b5d1c0f3e9a2b5d1c0f3e9a2b5d1c0f3e9a2b5d1c',
  healthcheck: {
    intervalMs: 30_000,
    retries: 3,
    startPeriodMs: 30_000,
    test: ['/app/.venv/bin/python', '-c', 'print(1)'],
    timeoutMs: 10_000,
  },
  ref: 'ghcr.io/stigmer/agent-runner:v0.1.0',
  version: 'v0.1.0',
}

const options = (over: Partial<ExportOptions> = {}): ExportOptions => ({
  cpuRequest: '250m',
  format: 'kubernetes',
  includeSecrets: false,
  memoryRequest: '512Mi',
  name: 'stigmer-agent-runner',
  perPodWorkspace: false,
  replicas: 1,
  storage: '10Gi',
  ...over,
})

function compileComposeSchema() {
  const ajv = new Ajv({allErrors: true, strict: false})
  // The schema names draft-07 by its https address; ajv ships the same meta-schema under http.
  ajv.addMetaSchema({...draft7, $id: 'https://json-schema.org/draft-07/schema'})
  return ajv.compile(composeSchema)
}

/** Validates with kubernetes-models (the OpenAPI schemas of the Kubernetes API, offline). */
function validateKubernetes(object: {kind: string; [key: string]: unknown}): void {
  const models: Record<string, new (data: never) => {validate(): void}> = {
    ConfigMap,
    Deployment,
    PersistentVolumeClaim,
    Secret,
  }
  const Model = models[object.kind]
  if (!Model) throw new Error(`no model for ${object.kind}`)
  new Model(object as never).validate()
}

describe('server export', () => {
  describe('addresses', () => {
    it('finds the host in host:port, URLs, IPv6 and gRPC targets', () => {
      expect(addressHost('localhost:7233')).to.equal('localhost')
      expect(addressHost('http://user@Host.Docker.Internal:11434/v1')).to.equal('host.docker.internal')
      expect(addressHost('[::1]:7234')).to.equal('::1')
      expect(addressHost('dns:///127.0.0.1:7233')).to.equal('127.0.0.1')
      expect(addressHost('temporal.temporal.svc:7233')).to.equal('temporal.temporal.svc')
    })

    it('localhost, loopback and the engines host aliases are host-local; a service name is not', () => {
      for (const v of [
        'localhost:7233',
        '127.0.1.1:1',
        '[::1]:7234',
        'host.docker.internal:7233',
        'host.containers.internal:7234',
      ])
        expect(isHostLocalAddress(v), v).to.equal(true)
      for (const v of ['temporal:7233', 'temporal-frontend.temporal.svc.cluster.local:7233', '10.0.0.5:7233'])
        expect(isHostLocalAddress(v), v).to.equal(false)
    })

    it('pins by digest when known, keeps the tag, and never doubles a digest', () => {
      expect(pinnedReference('r/x:v1', 'sha256:ab')).to.equal('r/x:v1@sha256:ab')
      expect(pinnedReference('r/x:v1', undefined)).to.equal('r/x:v1')
      expect(pinnedReference('r/x@sha256:ab', 'sha256:cd')).to.equal('r/x@sha256:ab')
    })
  })

  describe('Kubernetes', () => {
    it('refuses the default localhost Temporal and backend (exit 2), saying why and what to pass', () => {
      let error: unknown
      try {
        renderExport(spec(), image, options())
      } catch (error_) {
        error = error_
      }

      expect(error).to.be.instanceOf(StigmerError)
      const e = error as StigmerError
      expect(e.exit).to.equal(ExitCode.USAGE).and.to.equal(2)
      expect(e.message).to.include('TEMPORAL_SERVICE_ADDRESS=localhost:7233').and.include('STIGMER_BACKEND_ENDPOINT')
      expect(e.message).to.match(/localhost is the pod itself/)
      expect(e.suggestions.join('\n')).to.include('--temporal-address').and.include('--backend-endpoint')
    })

    it('refuses a host alias from the config file, and bridge rewrites are undone (a pod has no host gateway)', () => {
      const fromConfig = spec({
        ...inCluster,
        configEnv: {},
        envFlags: {TEMPORAL_SERVICE_ADDRESS: 'temporal:7233'},
        hostEnv: {STIGMER_BACKEND_ENDPOINT: 'host.docker.internal:7234'},
      })
      expect(() => renderExport(fromConfig, image, options())).to.throw(
        /STIGMER_BACKEND_ENDPOINT=host.docker.internal:7234/,
      )
      // Docker Desktop: start rewrites to host.docker.internal; the export sees the original and refuses it.
      const desktop = spec({
        engine: {inVm: true, name: 'Docker Desktop', rootless: false},
        platform: 'darwin',
      })
      expect(desktop.spec.env.TEMPORAL_SERVICE_ADDRESS).to.equal('host.docker.internal:7233')
      expect(() => renderExport(desktop, image, options())).to.throw(/TEMPORAL_SERVICE_ADDRESS=localhost:7233/)
    })

    it('an explicit --temporal-address localhost (a sidecar in the pod) is taken as given', () => {
      const sidecar = spec({
        envFlags: {STIGMER_BACKEND_ENDPOINT: 'localhost:7234', TEMPORAL_SERVICE_ADDRESS: 'localhost:7233'},
      })
      expect(() => renderExport(sidecar, image, options())).not.to.throw()
    })

    it('builds a Deployment, ConfigMap, Secret and PVC that validate against the Kubernetes schemas', () => {
      const {objects} = kubernetesObjects(spec(inCluster), image, options())
      expect(objects.map((o) => o.kind)).to.deep.equal(['ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Deployment'])
      for (const object of objects) validateKubernetes(object)
      for (const object of objects) {
        expect(object.metadata.labels).to.include({
          'app.kubernetes.io/instance': 'stigmer-agent-runner',
          'app.kubernetes.io/managed-by': 'stigmer',
          'app.kubernetes.io/name': 'agent-runner',
          'app.kubernetes.io/version': 'v0.1.0',
        })
      }
    })

    it('the validator is not a no-op: a wrong type or a missing selector fails', () => {
      const {objects} = kubernetesObjects(spec(inCluster), image, options())
      const deployment = objects.find((o) => o.kind === 'Deployment')! as unknown as {spec: Record<string, unknown>}
      expect(() =>
        validateKubernetes({...deployment, kind: 'Deployment', spec: {...deployment.spec, replicas: 'three'}}),
      ).to.throw()
      expect(() =>
        validateKubernetes({...deployment, kind: 'Deployment', spec: {...deployment.spec, selector: undefined}}),
      ).to.throw()
      const project = composeProject(spec(), image, options({format: 'compose'})).project
      const validate = compileComposeSchema()
      expect(validate({...project, services: {x: {...project.services['agent-runner'], stop_grace: '1s'}}})).to.equal(
        false,
      )
    })

    it('the Deployment: digest, non-root 1000, no escalation, no capabilities, probes from the image, grace as stop, requests', () => {
      const {objects} = kubernetesObjects(spec(inCluster), image, options())
      const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
        spec: {replicas: number; template: {spec: Record<string, any>}}
      }
      const pod = deployment.spec.template.spec
      const container = pod.containers[0]
      expect(deployment.spec.replicas).to.equal(1)
      expect(container.image).to.equal(`ghcr.io/stigmer/agent-runner:v0.1.0@${image.digest}`)
      expect(pod.securityContext).to.deep.include({
        fsGroup: 1000,
        runAsGroup: 1000,
        runAsNonRoot: true,
        runAsUser: 1000,
      })
      expect(container.securityContext).to.deep.equal({allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}})
      expect(container.readinessProbe.exec.command).to.deep.equal(image.healthcheck!.test)
      expect(container.livenessProbe).to.deep.include({
        failureThreshold: 3,
        initialDelaySeconds: 30,
        periodSeconds: 30,
        timeoutSeconds: 10,
      })
      expect(container.livenessProbe.exec.command).to.deep.equal(image.healthcheck!.test)
      expect(pod.terminationGracePeriodSeconds).to.equal(10)
      expect(container.resources).to.deep.equal({requests: {cpu: '250m', memory: '512Mi'}})
      expect(container.volumeMounts).to.deep.equal([{mountPath: '/workspace', name: 'workspace'}])
      expect(pod.volumes).to.deep.equal([
        {name: 'workspace', persistentVolumeClaim: {claimName: 'stigmer-agent-runner-workspace'}},
      ])
    })

    it("the environment is exactly start's: plain values in the ConfigMap, secret names in the Secret, empty unless --include-secrets", () => {
      const built = spec(inCluster)
      const {objects} = kubernetesObjects(built, image, options())
      const config = objects.find((o) => o.kind === 'ConfigMap') as unknown as {data: Record<string, string>}
      const secret = objects.find((o) => o.kind === 'Secret') as unknown as {stringData: Record<string, string>}
      expect({...config.data, ...secret.stringData, ANTHROPIC_API_KEY: SECRET}).to.deep.equal(built.spec.env)
      expect(config.data).to.include({
        MODE: 'local',
        SANDBOX_ROOT_DIR: '/workspace',
        TEMPORAL_SERVICE_ADDRESS: 'temporal-frontend:7233',
      })
      expect(secret.stringData).to.deep.equal({ANTHROPIC_API_KEY: ''})
      const included = kubernetesObjects(built, image, options({includeSecrets: true})).objects.find(
        (o) => o.kind === 'Secret',
      ) as unknown as {stringData: Record<string, string>}
      expect(included.stringData).to.deep.equal({ANTHROPIC_API_KEY: SECRET})
    })

    it('rendered YAML: no secret value without --include-secrets, a kubectl comment instead; parses back to the objects', () => {
      const rendered = renderExport(spec(inCluster), image, options())
      expect(rendered.combined.content).not.to.include(SECRET)
      expect(rendered.combined.secret).to.equal(false)
      expect(rendered.combined.content).to.include(
        'kubectl create secret generic stigmer-agent-runner-secrets --from-literal=ANTHROPIC_API_KEY="$ANTHROPIC_API_KEY"',
      )
      const docs = parseAllDocuments(rendered.combined.content).map((d) => d.toJS())
      expect(docs).to.deep.equal(kubernetesObjects(spec(inCluster), image, options()).objects)
      for (const doc of docs) validateKubernetes(doc)
      const withSecrets = renderExport(spec(inCluster), image, options({includeSecrets: true}))
      expect(withSecrets.combined.content).to.include(SECRET)
      expect(withSecrets.combined.secret).to.equal(true)
      expect(withSecrets.files.filter((f) => f.secret).map((f) => f.name)).to.deep.equal(['secret.yaml'])
    })

    it('replicas: a ReadWriteMany claim, or one claim per pod (ephemeral volume) with --workspace-per-pod', () => {
      const shared = kubernetesObjects(spec(inCluster), image, options({replicas: 3})).objects
      const claim = shared.find((o) => o.kind === 'PersistentVolumeClaim') as unknown as {spec: {accessModes: string[]}}
      expect(claim.spec.accessModes).to.deep.equal(['ReadWriteMany'])
      const perPod = kubernetesObjects(
        spec(inCluster),
        image,
        options({perPodWorkspace: true, replicas: 3, storageClass: 'fast'}),
      ).objects
      expect(perPod.map((o) => o.kind)).to.deep.equal(['ConfigMap', 'Secret', 'Deployment'])
      for (const object of [...shared, ...perPod]) validateKubernetes(object)
      const deployment = perPod.at(-1) as unknown as {spec: {replicas: number; template: {spec: {volumes: any[]}}}}
      expect(deployment.spec.replicas).to.equal(3)
      expect(deployment.spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate.spec).to.deep.include({
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'fast',
      })
    })

    it('an image without a health check: no probes, and a warning; without a digest: by tag, and a warning', () => {
      const rendered = renderExport(spec(inCluster), {...image, digest: undefined, healthcheck: undefined}, options())
      const deployment = parseAllDocuments(rendered.combined.content).at(-1)!.toJS()
      expect(deployment.spec.template.spec.containers[0]).not.to.have.property('readinessProbe')
      expect(deployment.spec.template.spec.containers[0].image).to.equal(image.ref)
      expect(rendered.warnings.join('\n')).to.include('no health check').and.include('no registry digest')
    })
  })

  describe('Compose', () => {
    const validate = compileComposeSchema()

    it('one service as start runs it on Linux: host networking, user 1000:1000, health check, stop signal and grace', () => {
      const {envFile, project} = composeProject(spec(), image, options({format: 'compose'}))
      expect(validate(project), JSON.stringify(validate.errors)).to.equal(true)
      const service = project.services['agent-runner']!
      expect(service).to.deep.include({
        env_file: ['stigmer-agent-runner.secrets.env'],
        image: `ghcr.io/stigmer/agent-runner:v0.1.0@${image.digest}`,
        network_mode: 'host',
        stop_grace_period: '10s',
        stop_signal: 'SIGTERM',
        user: '1000:1000',
      })
      expect(envFile).to.equal('stigmer-agent-runner.secrets.env')
      expect(service.healthcheck).to.deep.equal({
        interval: '30s',
        retries: 3,
        start_period: '30s',
        test: ['CMD', ...image.healthcheck!.test],
        timeout: '10s',
      })
      expect(service.volumes).to.deep.equal([{source: 'workspace', target: '/workspace', type: 'volume'}])
      expect(service.environment).to.not.have.property('ANTHROPIC_API_KEY')
      expect(service.environment).to.include({TEMPORAL_SERVICE_ADDRESS: 'localhost:7233'})
    })

    it('where start picks bridge (Docker Desktop), so does the export: rewritten addresses and the host-gateway entry', () => {
      const desktop = spec({
        engine: {inVm: true, name: 'Docker Desktop', rootless: false},
        platform: 'darwin',
      })
      const {project} = composeProject(desktop, image, options({format: 'compose', replicas: 2}))
      expect(validate(project), JSON.stringify(validate.errors)).to.equal(true)
      expect(project.services['agent-runner']).to.deep.include({
        deploy: {replicas: 2},
        extra_hosts: ['host.docker.internal:host-gateway'],
        network_mode: 'bridge',
      })
      expect(project.services['agent-runner']!.environment).to.include({
        TEMPORAL_SERVICE_ADDRESS: 'host.docker.internal:7233',
      })
    })

    it('the env file is named, not written, without --include-secrets; the YAML holds no secret and parses back', () => {
      const rendered = renderExport(spec(), image, options({format: 'compose'}))
      expect(rendered.combined.content).not.to.include(SECRET)
      expect(rendered.combined.content).to.include('user: "1000:1000"')
      expect(validate(parse(rendered.combined.content)), JSON.stringify(validate.errors)).to.equal(true)
      expect(rendered.files.map((f) => [f.name, Boolean(f.placeholder), f.content])).to.deep.equal([
        ['compose.yaml', false, rendered.combined.content],
        ['stigmer-agent-runner.secrets.env', true, ''],
      ])
    })

    it('no secret variables set: no env file at all', () => {
      const {envFile, project} = composeProject(spec({hostEnv: {}}), image, options({format: 'compose'}))
      expect(envFile).to.equal(undefined)
      expect(project.services['agent-runner']).not.to.have.property('env_file')
    })
  })

  describe('writing', () => {
    let dir: string

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'stigmer-export-'))
    })

    afterEach(() => rmSync(dir, {force: true, recursive: true}))
    const mode = (path: string) => (statSync(path).mode % 0o1000).toString(8)

    it('Kubernetes into a folder: one file per object; the Secret with values is 0600, the rest 0644', () => {
      const written = writeExport(renderExport(spec(inCluster), image, options({includeSecrets: true})), `${dir}/k8s/`)
      expect(readdirSync(join(dir, 'k8s')).sort()).to.deep.equal([
        'configmap.yaml',
        'deployment.yaml',
        'persistentvolumeclaim.yaml',
        'secret.yaml',
      ])
      expect(mode(join(dir, 'k8s', 'secret.yaml'))).to.equal('600')
      expect(mode(join(dir, 'k8s', 'deployment.yaml'))).to.equal('644')
      expect(readFileSync(join(dir, 'k8s', 'secret.yaml'), 'utf8')).to.include(SECRET)
      expect(written.files.filter((f) => f.secret).map((f) => f.mode)).to.deep.equal(['0600'])
    })

    it('Kubernetes into one file: 0600 as soon as it holds a secret, even if the file existed with 0644', () => {
      const file = join(dir, 'all.yaml')
      writeExport(renderExport(spec(inCluster), image, options()), file)
      expect(mode(file)).to.equal('644')
      writeExport(renderExport(spec(inCluster), image, options({includeSecrets: true})), file)
      expect(mode(file)).to.equal('600')
    })

    it('Compose: compose.yaml, and its env file (0600) only with --include-secrets; otherwise it is reported as to create', () => {
      const named = writeExport(renderExport(spec(), image, options({format: 'compose'})), `${dir}/`)
      expect(readdirSync(dir)).to.deep.equal(['compose.yaml'])
      expect(named.named).to.deep.equal([join(dir, 'stigmer-agent-runner.secrets.env')])
      writeExport(renderExport(spec(), image, options({format: 'compose', includeSecrets: true})), `${dir}/`)
      expect(readFileSync(join(dir, 'stigmer-agent-runner.secrets.env'), 'utf8')).to.equal(
        `ANTHROPIC_API_KEY=${SECRET}\n`,
      )
      expect(mode(join(dir, 'stigmer-agent-runner.secrets.env'))).to.equal('600')
      expect(mode(join(dir, 'compose.yaml'))).to.equal('644')
    })
  })
})

/**
 * What a user sees of `stigmer image pull` (no --json, output not a terminal: the plain
 * progress lines): the download, then the unpack phase, on the real engines, from the lab
 * registry. The event sequences behind it are unit-tested on recordings
 * (test/unit/image/layer-progress.test.ts); this checks the engines still send them.
 */
import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {
  busyboxImage,
  ENGINES,
  loadLab,
  requireEngines,
  runCli,
  runtimeFor,
  tempDir,
  track,
  uniqueName,
  useCleanup,
} from '../helpers/lab.js'
import {engineEnv} from '../helpers/server-images.js'

describe('image pull progress (real engines, lab registry)', function () {
  this.timeout(300_000)
  requireEngines()
  useCleanup()

  for (const {name: engine} of ENGINES) {
    it(`${engine}: the plain progress lines show the download and then the unpack phase`, async () => {
      const lab = loadLab()
      if (!lab.registry || !lab.registryUser || !lab.registryPassword)
        throw new Error(`${lab.envFile} describes no registry`)
      const credentials = {password: lab.registryPassword, registry: lab.registry, username: lab.registryUser}
      const runtime = runtimeFor(engine)
      // Three layers of 30 MB that do not compress: the unpacking takes long enough to be seen.
      const built = await busyboxImage(runtime, {
        lines: [1, 2, 3].map((i) => `RUN head -c 30000000 /dev/urandom > /blob${i}`),
      })
      const repository = `stigmer-test/${uniqueName(`pull-progress-${engine}`)}`
      const ref = `${lab.registry}/${repository}:1`
      track.image(runtime, ref)
      await runtime.tagImage(built, ref)
      const {digest} = await runtime.pushImage(ref, {credentials})
      const basic = `Basic ${Buffer.from(`${lab.registryUser}:${lab.registryPassword}`).toString('base64')}`
      try {
        await runtime.removeImage(ref, {force: true})
        await runtime.removeImage(built, {force: true})

        // The CLI's own credentials, in files of this test only.
        const auth = tempDir(`pull-progress-auth-${engine}`)
        mkdirSync(auth, {recursive: true})
        const file = JSON.stringify({
          auths: {
            [lab.registry]: {auth: Buffer.from(`${lab.registryUser}:${lab.registryPassword}`).toString('base64')},
          },
        })
        writeFileSync(join(auth, 'config.json'), file, {mode: 0o600})
        writeFileSync(join(auth, 'auth.json'), file, {mode: 0o600})
        const result = await runCli(['image', 'pull', '--runtime', engine, '--image', ref], {
          env: {...engineEnv(engine), DOCKER_CONFIG: auth, REGISTRY_AUTH_FILE: join(auth, 'auth.json')},
          timeoutMs: 240_000,
        })
        expect(result.code, result.stderr).to.equal(0)
        // The task list's plain lines (a pipe): the pull's task, its output lines (›), then its end.
        const lines = result.stderr.split('\n').filter((l) => l.startsWith('› '))
        expect(lines[0], result.stderr).to.match(/^› Pulling .* \([\d.]+ MB to download\)\.\.\.$/)
        // The line written when the download ends: Docker counts the layers it has unpacked once
        // it reports the first, Podman 4 says only that it unpacks.
        const unpacking = /\d+% [\d.]+ MB\/[\d.]+ MB {2}downloaded, unpacking(: \d\/4 layers done| 4 layers)$/
        expect(
          lines.some((l) => unpacking.test(l)),
          result.stderr,
        ).to.equal(true)
        expect(result.stderr.trim().split('\n').at(-1), result.stderr).to.match(
          /^✔ Pull .* \([\d.]+ MB\) \[[\d.]+m?s\]$/,
        )
      } finally {
        if (digest)
          await fetch(`http://${lab.registry}/v2/${repository}/manifests/${digest}`, {
            headers: {Authorization: basic},
            method: 'DELETE',
          }).catch(() => {})
      }
    })
  }
})

/**
 * The engine's /info kept between commands (src/adapters/info-cache.ts), on the real engines:
 * a second adapter (a second command) gets the same facts from the state folder, and a file
 * made for another engine identity is not believed.
 */
import {expect} from 'chai'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {DockerAdapter} from '../../src/adapters/docker.js'
import {PodmanAdapter} from '../../src/adapters/podman.js'
import {engineEndpoint, ENGINES, labContext, requireEngines, tempDir, useCleanup} from '../helpers/lab.js'

describe('engine info cache (real engines)', function () {
  this.timeout(60_000)
  requireEngines()
  useCleanup()

  for (const {name: engine} of ENGINES) {
    it(`${engine}: a second command reads the same facts from the state folder; another identity's file is asked again`, async () => {
      const stateDir = tempDir(`info-cache-${engine}`)
      const make = () => {
        const ctx = {...labContext(), stateDir}
        return engine === 'docker'
          ? new DockerAdapter(engineEndpoint(engine), ctx)
          : new PodmanAdapter(engineEndpoint(engine), ctx)
      }

      const first = make()
      const asked = await first.info()
      await first.close()
      const [file] = readdirSync(stateDir)
      expect(file, 'the answer is kept').to.match(/^engine-info-[\da-f]{16}\.json$/)
      const second = make()
      expect(await second.info()).to.deep.equal(asked)
      await second.close()

      // A file written for another engine (say, before a restart) with other facts is not used.
      const path = join(stateDir, file!)
      const saved = JSON.parse(readFileSync(path, 'utf8')) as {identity: string; info: {version: string}}
      writeFileSync(path, JSON.stringify({...saved, identity: 'another', info: {...saved.info, version: '0.0.1'}}))
      const third = make()
      expect((await third.info()).version).to.equal(asked.version)
      await third.close()
      expect((JSON.parse(readFileSync(path, 'utf8')) as {identity: string}).identity).to.equal(saved.identity)
    })
  }
})

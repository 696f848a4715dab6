import {expect} from 'chai'

import {parseBuildStep} from '../../../src/engine/build-step.js'
import {stepLabel} from '../../../src/image/build.js'

describe('build steps, read once', () => {
  it("Docker's classic builder: Step 3/9 : RUN x", () => {
    expect(parseBuildStep('Step 3/9 : RUN pip install .')).to.deep.equal({
      instruction: 'RUN pip install .',
      line: 'Step 3/9 : RUN pip install .',
      number: '3/9',
    })
  })

  it('Buildah (Podman, API or CLI): STEP 3/9: RUN x, with the stage of a multi-stage build', () => {
    expect(parseBuildStep('STEP 1/4: FROM busybox')).to.deep.include({instruction: 'FROM busybox', number: '1/4'})
    const staged = parseBuildStep('[2/2] STEP 3/5: COPY --from=build /app /app\n')!
    expect(staged).to.deep.equal({
      instruction: 'COPY --from=build /app /app',
      line: '[2/2] STEP 3/5: COPY --from=build /app /app',
      number: '3/5',
      stage: '2/2',
    })
    expect(stepLabel(staged)).to.equal('step 3/5 of stage 2/2')
    expect(stepLabel(parseBuildStep('Step 3/9 : RUN x')!)).to.equal('step 3/9')
  })

  it('other lines are not steps', () => {
    for (const line of [
      '---> Running in 4f2a',
      'step 3/9 : RUN x',
      'Installing STEP 3/9: x',
      'Successfully built 1234',
    ])
      expect(parseBuildStep(line), line).to.equal(undefined)
  })
})

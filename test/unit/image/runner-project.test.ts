import {expect} from 'chai'
import {mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {
  chooseInstaller,
  declaredPathDeps,
  findEntryPoint,
  parseEntrypointFlag,
  readRunnerProject,
  runnerCommand,
} from '../../../src/image/runner-project.js'
import {StigmerError} from '../../../src/lib/errors.js'
import {REPO_ROOT} from '../../helpers/lab.js'
import {rejectionOf} from '../../helpers/rejection.js'

const MONOREPO = join(REPO_ROOT, 'test', 'fixtures', 'stigmer-monorepo')

function thrown(fn: () => unknown): StigmerError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(StigmerError)
    return error as StigmerError
  }

  throw new Error('expected it to throw')
}

describe('the agent-runner project (image build reads it before building)', () => {
  let dir: string
  const write = (path: string, text = '') => {
    mkdirSync(dirname(join(dir, path)), {recursive: true})
    writeFileSync(join(dir, path), text)
  }

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'stigmer-runner-project-')))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  describe('the real shapes, as the fixtures hold them', () => {
    it('the seed: a Poetry project, main.py, the stubs path dependency outside the folder, staged from the monorepo root', () => {
      const project = readRunnerProject(join(MONOREPO, 'backend', 'services', 'agent-runner'))
      expect(project.installer).to.equal('poetry')
      expect(project.entry).to.deep.include({kind: 'file', target: 'main.py'})
      expect(project.appDir).to.equal('backend/services/agent-runner')
      expect(project.contextRoot).to.equal(realpathSync(MONOREPO))
      expect(project.outside.map((d) => d.name)).to.deep.equal(['stigmer-stubs'])
      expect(runnerCommand(project)).to.equal('/app/.venv/bin/python /app/backend/services/agent-runner/main.py')
    })

    it('later: PEP 621 with hatchling, a console script, the stubs through [tool.uv.sources], no lock: pip', () => {
      const project = readRunnerProject(join(MONOREPO, 'backend', 'services', 'agent-runner-pep621'))
      expect(project.installer).to.equal('pip')
      expect(project.entry).to.deep.include({kind: 'script', target: 'stigmer-runner'})
      expect(project.pathDeps.map((d) => d.where)).to.deep.equal(['[tool.uv.sources]'])
      expect(runnerCommand(project)).to.equal('/app/.venv/bin/stigmer-runner')
    })

    it('the mechanics fixture: a package with __main__.py under src/, nothing outside: the context is the folder itself', () => {
      const project = readRunnerProject(join(REPO_ROOT, 'test', 'fixtures', 'agent-runner'))
      expect(project.entry).to.deep.include({kind: 'module', target: 'agent_runner'})
      expect(project.appDir).to.equal('.')
      expect(runnerCommand(project)).to.equal('/app/.venv/bin/python -m agent_runner')
    })
  })

  describe('entry point, in its order', () => {
    it('--entrypoint wins over everything, in its three forms', () => {
      expect(findEntryPoint(dir, {project: {scripts: {a: 'x:y'}}}, 'module:worker')).to.deep.include({
        kind: 'module',
        target: 'worker',
      })
      expect(parseEntrypointFlag('script:stigmer-runner')).to.deep.include({kind: 'script', target: 'stigmer-runner'})
      expect(parseEntrypointFlag('./main.py')).to.deep.include({kind: 'file', target: 'main.py'})
      for (const bad of ['script:a b', 'module:1x', 'file:../main.py', 'main', 'file:x.sh', 'script:$(id)'])
        expect(thrown(() => parseEntrypointFlag(bad)).exit, bad).to.equal(2)
    })

    it('then the one console script ([project.scripts] or [tool.poetry.scripts]), before main.py', () => {
      write('main.py')
      expect(findEntryPoint(dir, {tool: {poetry: {scripts: {runner: 'pkg:main'}}}})).to.deep.include({
        kind: 'script',
        target: 'runner',
      })
    })

    it('several console scripts: exit 2, naming them and how to choose', () => {
      const error = thrown(() => findEntryPoint(dir, {project: {scripts: {a: 'x:a', b: 'x:b'}}}))
      expect(error.exit).to.equal(2)
      expect(error.message).to.include('a, b')
      expect(error.suggestions.join(' ')).to.include('--entrypoint script:a')
    })

    it('then main.py, then one package with __main__.py (top or src/)', () => {
      write('src/pkg/__main__.py')
      expect(findEntryPoint(dir, {})).to.deep.include({kind: 'module', target: 'pkg'})
      write('main.py')
      expect(findEntryPoint(dir, {})).to.deep.include({kind: 'file', target: 'main.py'})
    })

    it('none at all: exit 2 with the list of what was looked for', () => {
      const error = thrown(() => findEntryPoint(dir, {}))
      expect(error.exit).to.equal(2)
      expect(error.code).to.equal('NO_ENTRYPOINT')
      expect(error.details).to.include('main.py at the project root')
      expect(error.details).to.include('__main__.py')
    })
  })

  describe('installer', () => {
    it('Poetry for [tool.poetry]; for PEP 621: uv with uv.lock (even beside poetry.lock), Poetry 2 with poetry.lock, else pip', () => {
      expect(chooseInstaller(dir, {tool: {poetry: {dependencies: {}}}}).installer).to.equal('poetry')
      expect(chooseInstaller(dir, {tool: {poetry: {'package-mode': false}}}).installer).to.equal('poetry')
      expect(chooseInstaller(dir, {project: {}}).installer).to.equal('pip')
      write('poetry.lock')
      expect(chooseInstaller(dir, {project: {}})).to.deep.include({installer: 'poetry'})
      write('uv.lock')
      expect(chooseInstaller(dir, {project: {}}).reason).to.include('poetry.lock beside it is not used')
    })
  })

  describe('path dependencies', () => {
    it('Poetry tables and groups, multiple-constraint arrays, PEP 508 file: URLs, [tool.uv.sources]', () => {
      const deps = declaredPathDeps(
        {
          project: {dependencies: ['a @ file:///abs/a', 'b @ file:../b ; python_version >= "3.11"', 'requests>=2']},
          tool: {
            poetry: {
              dependencies: {c: {develop: true, path: '../c'}, d: [{path: '../d1'}, {path: '../d2'}], e: '^1.0'},
              group: {dev: {dependencies: {f: {path: '../f'}}}},
            },
            uv: {sources: {g: {path: '../g'}, h: {git: 'https://example.com/h'}}},
          },
        },
        dir,
      )
      expect(deps.map((d) => `${d.name}=${d.declared}`)).to.deep.equal([
        'c=../c',
        'd=../d1',
        'd=../d2',
        'f=../f',
        'a=/abs/a',
        'b=../b',
        'g=../g',
      ])
    })

    function repo(): string {
      mkdirSync(join(dir, '.git'))
      write('apis/stubs/pyproject.toml')
      write('svc/runner/main.py')
      return join(dir, 'svc', 'runner')
    }

    it('outside the folder: the context is the lowest folder holding both, never the whole repository', () => {
      const source = repo()
      write('svc/runner/pyproject.toml', '[tool.poetry.dependencies]\nstubs = {path = "../../apis/stubs"}\n')
      write('unrelated/secret.txt', 'x')
      const project = readRunnerProject(source)
      expect(project.contextRoot).to.equal(dir)
      expect(project.appDir).to.equal('svc/runner')
      expect(project.repoRoot).to.equal(dir)
    })

    it("a path dependency's own path dependencies are staged too (checked by the same rules)", () => {
      const source = repo()
      write('svc/runner/pyproject.toml', '[tool.poetry.dependencies]\nstubs = {path = "../../apis/stubs"}\n')
      write('apis/stubs/pyproject.toml', '[tool.poetry.dependencies]\ncommon = {path = "../common"}\n')
      write('apis/common/pyproject.toml')
      const project = readRunnerProject(source)
      expect(project.pathDeps.map((d) => `${d.name}: ${d.where}`)).to.deep.equal([
        'stubs: [tool.poetry.dependencies]',
        'common: [tool.poetry.dependencies] of stubs',
      ])
      write('apis/stubs/pyproject.toml', '[tool.poetry.dependencies]\ncommon = {path = "../../../elsewhere"}\n')
      expect(thrown(() => readRunnerProject(source)).exit).to.equal(2)
    })

    it('missing, not a folder, outside the repository, or the folder above the runner: exit 2 before anything is built', () => {
      const source = repo()
      const cases: Array<[string, RegExp]> = [
        ['../../apis/nothing', /does not exist/],
        ['main.py', /is not a folder/],
        ['../../..', /leaves the repository/],
        ['..', /holds the agent-runner itself/],
      ]
      for (const [path, message] of cases) {
        write('svc/runner/pyproject.toml', `[tool.poetry.dependencies]\nx = {path = "${path}"}\n`)
        const error = thrown(() => readRunnerProject(source))
        expect(error.exit, path).to.equal(2)
        expect(error.message, path).to.match(message)
      }
    })

    it('a symlink that leads out of the repository is judged by where it leads', () => {
      const source = repo()
      const outside = mkdtempSync(join(tmpdir(), 'stigmer-outside-'))
      try {
        symlinkSync(outside, join(dir, 'apis', 'link'))
        write('svc/runner/pyproject.toml', '[tool.poetry.dependencies]\nx = {path = "../../apis/link"}\n')
        expect(thrown(() => readRunnerProject(source)).message).to.match(/leaves the repository/)
      } finally {
        rmSync(outside, {force: true, recursive: true})
      }
    })

    it('outside the folder with no git repository around it: exit 2 (nothing bounds the context)', () => {
      write('apis/stubs/pyproject.toml')
      write('svc/runner/pyproject.toml', '[tool.poetry.dependencies]\nx = {path = "../../apis/stubs"}\n')
      write('svc/runner/main.py')
      expect(thrown(() => readRunnerProject(join(dir, 'svc', 'runner'))).message).to.match(/in no git repository/)
    })
  })

  it('no pyproject.toml (say, --source . in a home folder): exit 2, nothing read beyond it', async () => {
    write('.ssh/id_ed25519', 'secret')
    const error = thrown(() => readRunnerProject(dir))
    expect(error.exit).to.equal(2)
    expect(error.message).to.include('has no pyproject.toml')
    // And the same through planBuild, before the engine is touched.
    const {planBuild} = await import('../../../src/image/build.js')
    const rejected = await rejectionOf(planBuild({cliRoot: REPO_ROOT, sourceDir: dir}), StigmerError)
    expect(rejected.exit).to.equal(2)
  })

  it('invalid TOML: exit 2 naming the file', () => {
    write('pyproject.toml', '[tool.poetry\n')
    expect(thrown(() => readRunnerProject(dir)).message).to.match(/pyproject\.toml is not valid TOML/)
  })
})

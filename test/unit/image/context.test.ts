/* eslint-disable n/no-unsupported-features/node-builtins -- fs.cpSync is flagged experimental before Node 22.3 but works in Node 20. */
import {expect} from 'chai'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {planBuild, stageContextFor} from '../../../src/image/build.js'
import {
  createMatcher,
  ignoreFilesFor,
  parseIgnoreFile,
  selectPaths,
  STAGED_DOCKERFILE,
  stageBuildContext,
} from '../../../src/image/context.js'
import {REPO_ROOT} from '../../helpers/lab.js'

function tree(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), {recursive: true})
    writeFileSync(join(root, path), content)
  }
}

function list(root: string, rel = ''): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(root, rel), {withFileTypes: true})) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`
    if (entry.isDirectory()) out.push(...list(root, path))
    else out.push(path)
  }

  return out.sort()
}

describe('image/context', () => {
  describe('parseIgnoreFile', () => {
    it('drops comments and blank lines and trims', () => {
      expect(parseIgnoreFile('# c\n\n  tests/  \r\n*.pyc\n!keep.pyc\n')).to.deep.equal(['tests/', '*.pyc', '!keep.pyc'])
    })
  })

  describe('selectPaths (Docker semantics)', () => {
    const paths = [
      'a.pyc',
      'src/a.pyc',
      'src/pkg/__pycache__/m.pyc',
      'tests/test_x.py',
      'src/tests/keep.py',
      'docs/x.md',
      'keep.pyc',
      '.git/HEAD',
      'src/app.py',
    ]

    it('`*` does not cross folders; `**` does; a bare name matches only at the top', () => {
      expect(selectPaths(paths, ['*.pyc', 'tests'])).to.deep.equal([
        'src/a.pyc',
        'src/pkg/__pycache__/m.pyc',
        'src/tests/keep.py',
        'docs/x.md',
        '.git/HEAD',
        'src/app.py',
      ])
      expect(selectPaths(paths, ['**/*.pyc', '**/__pycache__'])).to.not.include.members([
        'a.pyc',
        'src/a.pyc',
        'src/pkg/__pycache__/m.pyc',
      ])
    })

    it('later `!` rules re-include, and a leading / means the top', () => {
      expect(selectPaths(paths, ['*.pyc', '!keep.pyc', '/docs', '.git'])).to.deep.equal([
        'src/a.pyc',
        'src/pkg/__pycache__/m.pyc',
        'tests/test_x.py',
        'src/tests/keep.py',
        'keep.pyc',
        'src/app.py',
      ])
    })

    it('a folder with no exception under it can be skipped whole; one with an exception cannot', () => {
      const m = createMatcher(['docs', 'tests', '!tests/keep.py'])
      expect(m.canSkipDir('docs')).to.equal(true)
      expect(m.canSkipDir('tests')).to.equal(false)
      expect(m.ignores('tests/keep.py')).to.equal(false)
      expect(m.ignores('tests/other.py')).to.equal(true)
    })
  })

  describe('ignoreFilesFor', () => {
    it('uses <Dockerfile>.dockerignore, then the source .dockerignore, when they exist', () => {
      const dir = mkdtempSync(join(tmpdir(), 'stigmer-unit-'))
      try {
        tree(dir, {'cli/Dockerfile': 'FROM x', 'cli/Dockerfile.dockerignore': 'tests', 'src/.dockerignore': 'docs'})
        expect(ignoreFilesFor(join(dir, 'src'), join(dir, 'cli/Dockerfile'))).to.deep.equal([
          join(dir, 'cli/Dockerfile.dockerignore'),
          join(dir, 'src/.dockerignore'),
        ])
        rmSync(join(dir, 'src/.dockerignore'))
        expect(ignoreFilesFor(join(dir, 'src'), join(dir, 'other/Dockerfile'))).to.deep.equal([])
      } finally {
        rmSync(dir, {force: true, recursive: true})
      }
    })
  })

  describe('stageBuildContext', () => {
    let dir: string

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'stigmer-unit-'))
    })

    afterEach(() => rmSync(dir, {force: true, recursive: true}))

    it('a monorepo runner: the source at APP_DIR, its path dependency at its place, the support files; nothing private in either, nothing else of the repository', async () => {
      const repo = join(dir, 'repo')
      cpSync(join(REPO_ROOT, 'test', 'fixtures', 'stigmer-monorepo'), repo, {recursive: true})
      tree(repo, {
        '.git/HEAD': 'ref',
        'apis/stubs/python/stigmer/.env': 'TOKEN=no',
        'apis/stubs/python/stigmer/.git/HEAD': 'no',
        'apis/stubs/python/stigmer/tests/test_stubs.py': 'no',
        'backend/services/agent-runner/.env': 'ANTHROPIC_API_KEY=no',
        'backend/services/agent-runner/.env.local': 'no',
        'backend/services/agent-runner/docs/design.md': 'no',
        'backend/services/other-service/secret.txt': 'no',
        'docs/top.md': 'no',
      })
      const plan = await planBuild({cliRoot: REPO_ROOT, sourceDir: join(repo, 'backend', 'services', 'agent-runner')})
      const staged = await stageContextFor(plan)
      try {
        expect(list(staged.dir)).to.deep.equal([
          '.dockerignore',
          '.stigmer-image/healthcheck.py',
          '.stigmer-image/install.sh',
          STAGED_DOCKERFILE,
          'apis/stubs/python/stigmer/README.md',
          'apis/stubs/python/stigmer/ai/__init__.py',
          'apis/stubs/python/stigmer/ai/stigmer/__init__.py',
          'apis/stubs/python/stigmer/ai/stigmer/temporal_wire.py',
          'apis/stubs/python/stigmer/pyproject.toml',
          'backend/services/agent-runner/README.md',
          'backend/services/agent-runner/grpc_client/__init__.py',
          'backend/services/agent-runner/main.py',
          'backend/services/agent-runner/poetry.lock',
          'backend/services/agent-runner/pyproject.toml',
          'backend/services/agent-runner/worker/__init__.py',
          'backend/services/agent-runner/worker/config.py',
        ])
        expect(plan.buildArgs).to.include({
          APP_DIR: 'backend/services/agent-runner',
          INSTALLER: 'poetry',
          PATH_DEPS: 'apis/stubs/python/stigmer',
          RUNNER_COMMAND: '/app/.venv/bin/python /app/backend/services/agent-runner/main.py',
        })
      } finally {
        await staged.cleanup()
      }

      expect(existsSync(staged.dir)).to.equal(false)
    })

    it('copies what the rules keep, adds the Dockerfile, and removes the folder on cleanup', async () => {
      const source = join(dir, 'src')
      tree(source, {
        '.dockerignore': '# the project\ndocs/\n!tests/fixtures/keep.txt\n',
        '.git/HEAD': 'ref',
        '.venv/bin/python': 'x',
        'docs/readme.md': 'no',
        'pyproject.toml': '[tool.poetry]',
        'src/pkg/__init__.py': '',
        'src/pkg/__pycache__/x.pyc': 'no',
        'tests/fixtures/keep.txt': 'kept',
        'tests/test_a.py': 'no',
      })
      writeFileSync(join(source, 'run.sh'), '#!/bin/sh\n')
      chmodSync(join(source, 'run.sh'), 0o755)
      symlinkSync('pyproject.toml', join(source, 'link.toml'))
      tree(dir, {
        'cli/Dockerfile': 'FROM scratch\n',
        'cli/Dockerfile.dockerignore': '.git\n.venv/\n**/__pycache__\ntests/\n',
      })

      const staged = await stageBuildContext({
        dockerfile: join(dir, 'cli/Dockerfile'),
        sourceDir: source,
        tempRoot: dir,
      })
      try {
        expect(list(staged.dir)).to.deep.equal([
          '.dockerignore',
          STAGED_DOCKERFILE,
          'link.toml',
          'pyproject.toml',
          'run.sh',
          'src/pkg/__init__.py',
          'tests/fixtures/keep.txt',
        ])
        expect(staged.dockerfile).to.equal(STAGED_DOCKERFILE)
        expect(readFileSync(join(staged.dir, STAGED_DOCKERFILE), 'utf8')).to.equal('FROM scratch\n')
        // the staged .dockerignore keeps only our own files out of COPY . .
        expect(parseIgnoreFile(readFileSync(join(staged.dir, '.dockerignore'), 'utf8'))).to.deep.equal([
          STAGED_DOCKERFILE,
          '.dockerignore',
        ])
        expect(statSync(join(staged.dir, 'run.sh')).mode % 0o1000).to.equal(0o755)
        expect(staged.files).to.equal(5)
        expect(staged.ignoreFiles).to.deep.equal([
          join(dir, 'cli/Dockerfile.dockerignore'),
          join(source, '.dockerignore'),
        ])
      } finally {
        await staged.cleanup()
      }

      expect(existsSync(staged.dir)).to.equal(false)
      await staged.cleanup() // twice is fine
    })

    it('removes the folder when aborted', async () => {
      const source = join(dir, 'src')
      tree(source, {'a.txt': 'a', 'b/c.txt': 'c'})
      writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n')
      const controller = new AbortController()
      controller.abort()
      let error: unknown
      try {
        await stageBuildContext({
          dockerfile: join(dir, 'Dockerfile'),
          signal: controller.signal,
          sourceDir: source,
          tempRoot: dir,
        })
      } catch (error_) {
        error = error_
      }

      expect(error).to.be.instanceOf(Error)
      expect(readdirSync(dir).filter((n) => n.startsWith('stigmer-build-'))).to.deep.equal([])
    })
  })
})

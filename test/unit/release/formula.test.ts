import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  ensureDebianTool,
  fakeBrew,
  fakeCliTarball,
  type FormulaModule,
  formulaModule,
  IN_CI,
  PACKAGE_VERSION,
  REPO_ROOT,
  sha256,
} from './helpers.js'

const TARGETS = ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64']

describe('release: Homebrew formula (scripts/render-formula.mjs)', () => {
  let mod: FormulaModule
  let dir: string

  before(async () => {
    mod = await formulaModule()
    dir = mkdtempSync(join(tmpdir(), 'stigmer-formula-'))
  })

  after(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  describe('renderFormula (pure)', () => {
    const artifacts = Object.fromEntries(
      TARGETS.map((t, i) => [t, {sha256: String(i).repeat(64), url: `https://example.invalid/${t}.tar.xz`}]),
    )
    const render = (imageSize?: string) =>
      mod.renderFormula({
        artifacts,
        description: 'Run it',
        homepage: 'https://github.com/stigmer/stigmer-cli',
        imageSize,
        license: 'Apache-2.0',
        version: '1.2.3',
      })

    it('has one url and sha256 per OS and CPU, in on_macos/on_linux and on_arm/on_intel blocks', () => {
      const text = render()
      for (const [os, cpu, target] of [
        ['on_macos', 'on_arm', 'darwin-arm64'],
        ['on_macos', 'on_intel', 'darwin-x64'],
        ['on_linux', 'on_arm', 'linux-arm64'],
        ['on_linux', 'on_intel', 'linux-x64'],
      ]) {
        const osBlock = new RegExp(`  ${os} do\\n([\\s\\S]*?)\\n  end\\n`).exec(text)?.[1] ?? ''
        expect(osBlock, `${os} block`).to.match(
          new RegExp(
            `${cpu} do\\n\\s+url "https://example.invalid/${target}.tar.xz"\\n\\s+sha256 "${artifacts[target]!.sha256}"`,
          ),
        )
      }
    })

    it('installs heroku-style: everything into libexec, a bin link to libexec/bin/stigmer', () => {
      const text = render()
      expect(text).to.include('libexec.install Dir["*"]')
      expect(text).to.include('bin.install_symlink libexec/"bin/stigmer"')
      expect(text).not.to.match(/depends_on "node"/)
    })

    it('caveats: Docker or Podman needed (how to install each), and the pinned image the first start downloads', () => {
      const text = render()
      const caveats = /def caveats\n([\s\S]*?)\n {2}end\n/.exec(text)?.[1] ?? ''
      expect(caveats).to.match(/Docker or Podman/)
      expect(caveats).to.include('brew install --cask docker-desktop')
      expect(caveats, 'the old cask name').not.to.match(/--cask docker(?!-desktop)/)
      expect(caveats).to.include('brew install podman && podman machine init && podman machine start')
      expect(caveats).to.include('ghcr.io/stigmer/agent-runner:v1.2.3')
      expect(caveats).to.match(/first `stigmer server start` downloads/)
      expect(caveats).to.match(/size is shown before it starts/)
      expect(render('212 MB')).to.include('about 212 MB')
    })

    it('has a livecheck block that follows the GitHub releases', () => {
      expect(render()).to.match(/ {2}livecheck do\n {4}url :stable\n {4}strategy :github_latest\n {2}end\n/)
    })

    it("neutralises oclif's client/ redirect before installing, as heroku's formula does", () => {
      const install = /def install\n([\s\S]*?)\n {2}end\n/.exec(render())?.[1] ?? ''
      const lines = install.split('\n').map((l) => l.trim())
      expect(lines[0]).to.equal(
        'inreplace "bin/stigmer", /^CLIENT_HOME=/, "export STIGMER_OCLIF_CLIENT_HOME=#{lib/"client"}\\nCLIENT_HOME="',
      )
      expect(lines.indexOf('libexec.install Dir["*"]')).to.be.greaterThan(0)
    })

    it("oclif's bin script still has the CLIENT_HOME line the formula rewrites", () => {
      const template = readFileSync(join(REPO_ROOT, 'node_modules', 'oclif', 'lib', 'tarballs', 'bin.js'), 'utf8')
      expect(template).to.match(/\nCLIENT_HOME=\\\$\{\$\{clientHomeEnvVar\}:=/)
      expect(template).to.include("config.scopedEnvVarKey('OCLIF_CLIENT_HOME')")
      expect(mod.CLIENT_HOME_VAR).to.equal('STIGMER_OCLIF_CLIENT_HOME')
    })

    it('has a test do block that runs `stigmer version` and matches the version', () => {
      expect(render()).to.match(
        /test do\n\s+assert_match "stigmer #\{version\}", shell_output\("#\{bin\}\/stigmer version"\)\n\s+end/,
      )
    })

    it('escapes Ruby string metacharacters in metadata', () => {
      const text = mod.renderFormula({
        artifacts,
        description: 'Say "hi" #{evil} \\ ok',
        homepage: 'https://x',
        license: 'MIT',
        version: '1.0.0',
      })
      expect(text).to.include('desc "Say \\"hi\\" \\#{evil} \\\\ ok"')
    })

    it('points urls at the GitHub release of the version', () => {
      expect(mod.releaseUrl('1.2.3', mod.tarballName('1.2.3', 'linux-x64'))).to.equal(
        'https://github.com/stigmer/stigmer-cli/releases/download/v1.2.3/stigmer-v1.2.3-linux-x64.tar.xz',
      )
    })
  })

  describe('from packed artifacts', () => {
    let tarballs: Record<string, string>

    before(() => {
      tarballs = Object.fromEntries(TARGETS.map((t) => [t, fakeCliTarball(dir, t)]))
    })

    it('hashes each tarball itself: the rendered sha256 values match the files', async () => {
      const artifacts = await mod.collectArtifacts({dir, version: PACKAGE_VERSION})
      for (const t of TARGETS) {
        expect(artifacts[t]!.sha256, t).to.equal(sha256(tarballs[t]!))
        expect(artifacts[t]!.url).to.equal(mod.releaseUrl(PACKAGE_VERSION, `stigmer-v${PACKAGE_VERSION}-${t}.tar.xz`))
      }
    })

    it('refuses a tarball whose .sha256 file disagrees with its content', async () => {
      const other = mkdtempSync(join(tmpdir(), 'stigmer-formula-bad-'))
      try {
        for (const t of TARGETS) fakeCliTarball(other, t)
        writeFileSync(join(other, `stigmer-v${PACKAGE_VERSION}-linux-x64.tar.xz.sha256`), `${'0'.repeat(64)}  x\n`)
        let error: Error | undefined
        try {
          await mod.collectArtifacts({dir: other, version: PACKAGE_VERSION})
        } catch (error_) {
          error = error_ as Error
        }

        expect(error?.message).to.match(/linux-x64\.tar\.xz\.sha256 says 0+ but/)
      } finally {
        rmSync(other, {force: true, recursive: true})
      }
    })

    it('refuses to render with a target missing, unless --partial', async () => {
      const other = mkdtempSync(join(tmpdir(), 'stigmer-formula-partial-'))
      try {
        fakeCliTarball(other, 'linux-x64')
        let error: Error | undefined
        try {
          await mod.collectArtifacts({dir: other, version: PACKAGE_VERSION})
        } catch (error_) {
          error = error_ as Error
        }

        expect(error?.message).to.match(/missing release artifacts[\s\S]*darwin-arm64/)
        const partial = await mod.collectArtifacts({dir: other, partial: true, version: PACKAGE_VERSION})
        expect(Object.keys(partial)).to.deep.equal(['linux-x64'])
      } finally {
        rmSync(other, {force: true, recursive: true})
      }
    })

    describe('the rendered file, through Ruby', () => {
      let formula: string

      before(function () {
        this.timeout(600_000)
        const problem = ensureDebianTool('ruby', ['ruby'])
        if (problem) {
          if (IN_CI) throw new Error(problem)
          console.warn(`SKIPPING the Ruby checks of the formula: ${problem}`)
          this.skip()
        }

        formula = join(dir, 'stigmer.rb')
        const r = spawnSync(
          process.execPath,
          [join(REPO_ROOT, 'scripts', 'render-formula.mjs'), '--dir', dir, '--out', formula],
          {
            encoding: 'utf8',
          },
        )
        expect(r.status, r.stderr).to.equal(0)
      })

      it('is valid Ruby (ruby -c)', () => {
        const r = spawnSync('ruby', ['-c', formula], {encoding: 'utf8'})
        expect(r.status, r.stderr).to.equal(0)
        expect(r.stdout).to.match(/Syntax OK/)
      })

      it('carries the sha256 of each packed tarball, as Ruby reads it', () => {
        const r = fakeBrew(formula, ['--list'])
        expect(r.status, r.stderr).to.equal(0)
        const blocks = r.json!.blocks as Array<{context: string[]; sha256: string; url: string}>
        const byTarget = Object.fromEntries(
          blocks.map((b) => [
            `${b.context[0] === 'macos' ? 'darwin' : 'linux'}-${b.context[1] === 'arm' ? 'arm64' : 'x64'}`,
            b,
          ]),
        )
        expect(Object.keys(byTarget).sort()).to.deep.equal([...TARGETS].sort())
        for (const t of TARGETS) {
          expect(byTarget[t]!.sha256, t).to.equal(sha256(tarballs[t]!))
          expect(byTarget[t]!.url, t).to.match(
            new RegExp(`/v${PACKAGE_VERSION}/stigmer-v${PACKAGE_VERSION}-${t}\\.tar\\.xz$`),
          )
        }

        expect(r.json!.version).to.equal(PACKAGE_VERSION)
      })

      it('installs into a prefix as the formula describes (libexec + bin link) and its test passes', () => {
        const prefix = mkdtempSync(join(tmpdir(), 'stigmer-brew-prefix-'))
        try {
          const r = fakeBrew(formula, [
            '--install',
            tarballs['linux-x64']!,
            '--prefix',
            prefix,
            '--os',
            'linux',
            '--cpu',
            'intel',
          ])
          expect(r.status, r.stderr).to.equal(0)
          expect(r.json!.test).to.equal('passed')
          expect(existsSync(join(prefix, 'libexec', 'bin', 'stigmer'))).to.equal(true)
          expect(readlinkSync(join(prefix, 'bin', 'stigmer'))).to.equal('../libexec/bin/stigmer')
          expect(readFileSync(join(prefix, 'libexec', 'package.json'), 'utf8')).to.include(PACKAGE_VERSION)
        } finally {
          rmSync(prefix, {force: true, recursive: true})
        }
      })

      it('records the livecheck block', () => {
        expect(fakeBrew(formula, ['--list']).json!.livecheck).to.deep.equal({strategy: 'github_latest', url: 'stable'})
      })

      it('the installed stigmer never runs a client/ copy in the data dir (oclif self-update redirect)', () => {
        const prefix = mkdtempSync(join(tmpdir(), 'stigmer-brew-prefix-'))
        const home = mkdtempSync(join(tmpdir(), 'stigmer-brew-home-'))
        try {
          const r = fakeBrew(formula, ['--install', tarballs['linux-x64']!, '--prefix', prefix, '--os', 'linux'])
          expect(r.status, r.stderr).to.equal(0)
          // what an oclif self-update would have left behind
          const client = join(home, 'data', 'stigmer', 'client', 'bin')
          mkdirSync(client, {recursive: true})
          writeFileSync(join(client, 'stigmer'), '#!/bin/sh\necho redirected\n', {mode: 0o755})
          const env = {HOME: home, PATH: process.env.PATH, XDG_DATA_HOME: join(home, 'data')}
          const brewed = spawnSync(join(prefix, 'bin', 'stigmer'), [], {encoding: 'utf8', env})
          expect(brewed.stdout).to.include(`stigmer ${PACKAGE_VERSION}`)
          expect(brewed.stdout).not.to.include('redirected')
          expect(readFileSync(join(prefix, 'libexec', 'bin', 'stigmer'), 'utf8')).to.include(
            `export STIGMER_OCLIF_CLIENT_HOME=${join(prefix, 'lib', 'client')}\nCLIENT_HOME=`,
          )
          // the same script unpatched would have run it: the test can tell the difference
          const raw = mkdtempSync(join(tmpdir(), 'stigmer-raw-'))
          spawnSync('tar', ['-xJf', tarballs['linux-x64']!, '-C', raw])
          expect(spawnSync(join(raw, 'stigmer', 'bin', 'stigmer'), [], {encoding: 'utf8', env}).stdout).to.include(
            'redirected',
          )
          rmSync(raw, {force: true, recursive: true})
        } finally {
          rmSync(prefix, {force: true, recursive: true})
          rmSync(home, {force: true, recursive: true})
        }
      })

      it('refuses a tarball that does not match the formula (as brew does)', () => {
        const prefix = mkdtempSync(join(tmpdir(), 'stigmer-brew-prefix-'))
        try {
          const r = fakeBrew(formula, [
            '--install',
            tarballs['linux-arm64']!,
            '--prefix',
            prefix,
            '--os',
            'linux',
            '--cpu',
            'intel',
          ])
          expect(r.status).to.not.equal(0)
          expect(r.stderr).to.match(/SHA256 mismatch/)
        } finally {
          rmSync(prefix, {force: true, recursive: true})
        }
      })

      it('fails the formula test when the installed CLI reports another version', () => {
        const prefix = mkdtempSync(join(tmpdir(), 'stigmer-brew-prefix-'))
        const other = mkdtempSync(join(tmpdir(), 'stigmer-formula-wrong-'))
        try {
          // A tarball that prints another version, with a formula rendered for it.
          const wrong = fakeCliTarball(other, 'linux-x64', '9.9.9')
          const text = readFileSync(formula, 'utf8').replace(
            /sha256 "[\da-f]{64}"(?=\n\s+end\n {2}end\n\n {2}# The tarball)/,
            `sha256 "${sha256(wrong)}"`,
          )
          const wrongFormula = join(other, 'stigmer.rb')
          writeFileSync(wrongFormula, text)
          const r = fakeBrew(wrongFormula, ['--install', wrong, '--prefix', prefix, '--os', 'linux', '--cpu', 'intel'])
          expect(r.status).to.not.equal(0)
          expect(r.stderr).to.match(/expected "stigmer 9\.9\.9/)
        } finally {
          rmSync(prefix, {force: true, recursive: true})
          rmSync(other, {force: true, recursive: true})
        }
      })
    })
  })
})

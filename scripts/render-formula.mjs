#!/usr/bin/env node
// scripts/render-formula.mjs: render the Homebrew formula from the packed release artifacts.
//
//   node scripts/render-formula.mjs                      reads tmp/release/, writes homebrew/stigmer.rb
//   node scripts/render-formula.mjs --dir DIR --out FILE
//   node scripts/render-formula.mjs --image-size "212 MB"  (or STIGMER_IMAGE_SIZE) for the caveats
//   node scripts/render-formula.mjs --partial             leave out targets that were not packed (tests only)
//   node scripts/render-formula.mjs --base-url file://$PWD/tmp/release
//                                                         urls at these files (CI installs the formula before release)
//
// The version comes from package.json (the one source of truth), the sha256 of each
// tarball is computed from the file itself (and checked against its .sha256 file when
// there is one), and each url points at the GitHub release of that version.
import {createHash} from 'node:crypto'
import {createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const REPOSITORY = 'stigmer/stigmer-cli'
export const IMAGE_REPOSITORY = 'ghcr.io/stigmer/agent-runner'
/** oclif's bin script: CLIENT_HOME=${STIGMER_OCLIF_CLIENT_HOME:=$XDG_DATA_HOME/stigmer/client} */
export const CLIENT_HOME_VAR = 'STIGMER_OCLIF_CLIENT_HOME'
/** Homebrew's OS/CPU blocks, in the order the formula lists them. */
export const TARGETS = [
  {arch: 'arm64', block: ['on_macos', 'on_arm'], target: 'darwin-arm64'},
  {arch: 'x64', block: ['on_macos', 'on_intel'], target: 'darwin-x64'},
  {arch: 'arm64', block: ['on_linux', 'on_arm'], target: 'linux-arm64'},
  {arch: 'x64', block: ['on_linux', 'on_intel'], target: 'linux-x64'},
]

export function tarballName(version, target) {
  return `stigmer-v${version}-${target}.tar.xz`
}

export function releaseUrl(version, file, repository = REPOSITORY) {
  return `https://github.com/${repository}/releases/download/v${version}/${file}`
}

export async function sha256File(file) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk)
  return hash.digest('hex')
}

/** Ruby string literal (double-quoted) for any text. */
function rubyString(text) {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('#{', '\\#{')}"`
}

/**
 * The formula text. `artifacts` maps a target (darwin-arm64, ...) to {url, sha256}.
 * Pure: the tests call it without any file.
 */
export function renderFormula({artifacts, description, homepage, imageSize, license, version}) {
  const image = `${IMAGE_REPOSITORY}:v${version}`
  const sizeText = imageSize
    ? `(about ${imageSize}; the download size is shown before it starts)`
    : '(its download size is shown before it starts)'
  const blocks = []
  for (const os of ['on_macos', 'on_linux']) {
    const inner = []
    for (const t of TARGETS.filter((x) => x.block[0] === os)) {
      const a = artifacts[t.target]
      if (!a) continue
      inner.push(
        `    ${t.block[1]} do`,
        `      url ${rubyString(a.url)}`,
        `      sha256 ${rubyString(a.sha256)}`,
        `    end`,
      )
    }

    if (inner.length > 0) blocks.push(`  ${os} do`, ...inner, `  end`, '')
  }

  return `# typed: false
# frozen_string_literal: true

# Rendered by scripts/render-formula.mjs (github.com/${REPOSITORY}) from the release
# artifacts of stigmer v${version}. Do not edit by hand: the release workflow replaces it.
class Stigmer < Formula
  desc ${rubyString(description)}
  homepage ${rubyString(homepage)}
  version ${rubyString(version)}
  license ${rubyString(license)}

  livecheck do
    url :stable
    strategy :github_latest
  end

${blocks.join('\n')}\n  # The tarball is self-contained: the CLI, its production dependencies and the
  # Node.js it runs on (bin/node), so it does not depend on Homebrew's node.
  # It has no self-update: upgrades come from \`brew upgrade stigmer\` only.
  # oclif's bin/stigmer runs $XDG_DATA_HOME/stigmer/client/bin/stigmer instead of
  # itself when that exists (where an oclif self-update installs); pointing
  # ${CLIENT_HOME_VAR} into the keg, where no client/ exists, keeps the binary
  # brew installed the one that runs (as heroku's formula does).
  def install
    inreplace "bin/stigmer", /^CLIENT_HOME=/, "export ${CLIENT_HOME_VAR}=#{lib/"client"}\\nCLIENT_HOME="
    libexec.install Dir["*"]
    bin.install_symlink libexec/"bin/stigmer"
  end

  def caveats
    <<~EOS
      stigmer runs the Stigmer agent-runner in a container, so it needs Docker or Podman:
        Docker Desktop:  brew install --cask docker-desktop   (then open Docker.app once)
        Podman:          brew install podman && podman machine init && podman machine start
        Linux:           Docker Engine (https://docs.docker.com/engine/install/)
                         or Podman (sudo apt install podman / sudo dnf install podman)
      \`stigmer doctor\` tells which engine it found and what is missing.

      The first \`stigmer server start\` downloads the agent-runner image
        ${image}
      ${sizeText}
    EOS
  end

  test do
    assert_match "stigmer #{version}", shell_output("#{bin}/stigmer version")
  end
end
`
}

/** Reads the packed tarballs of a version from dir and hashes them. */
export async function collectArtifacts({baseUrl, dir, partial = false, repository = REPOSITORY, version}) {
  const artifacts = {}
  const missing = []
  for (const {target} of TARGETS) {
    const file = join(dir, tarballName(version, target))
    if (!existsSync(file)) {
      missing.push(file)
      continue
    }

    const sha256 = await sha256File(file)
    const sidecar = `${file}.sha256`
    if (existsSync(sidecar)) {
      const recorded = readFileSync(sidecar, 'utf8').trim().split(/\s+/)[0]
      if (recorded !== sha256) throw new Error(`${sidecar} says ${recorded} but ${file} hashes to ${sha256}`)
    }

    const name = tarballName(version, target)
    const url = baseUrl ? `${baseUrl.replace(/\/+$/, '')}/${name}` : releaseUrl(version, name, repository)
    artifacts[target] = {file, sha256, url}
  }

  if (missing.length > 0 && (!partial || missing.length === TARGETS.length)) {
    throw new Error(`missing release artifacts (run npm run pack:tarballs first):\n  ${missing.join('\n  ')}`)
  }

  return artifacts
}

async function main() {
  const {values} = parseArgs({
    options: {
      'base-url': {type: 'string'},
      dir: {default: join(ROOT, 'tmp', 'release'), type: 'string'},
      help: {short: 'h', type: 'boolean'},
      'image-size': {type: 'string'},
      out: {default: join(ROOT, 'homebrew', 'stigmer.rb'), type: 'string'},
      partial: {type: 'boolean'},
      repository: {default: REPOSITORY, type: 'string'},
    },
  })
  if (values.help) {
    process.stdout.write(
      readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('\n')
        .slice(1, 13)
        .map((l) => l.replace(/^\/\/ ?/, ''))
        .join('\n') + '\n',
    )
    return
  }

  const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const artifacts = await collectArtifacts({
    baseUrl: values['base-url'],
    dir: resolve(values.dir),
    partial: values.partial,
    repository: values.repository,
    version: pjson.version,
  })
  const imageSize = values['image-size'] ?? process.env.STIGMER_IMAGE_SIZE ?? undefined
  const text = renderFormula({
    artifacts,
    description: pjson.description,
    homepage: pjson.homepage,
    imageSize: imageSize && imageSize.trim() !== '' ? imageSize.trim() : undefined,
    license: pjson.license,
    version: pjson.version,
  })
  mkdirSync(dirname(resolve(values.out)), {recursive: true})
  writeFileSync(resolve(values.out), text)
  process.stderr.write(
    `formula: wrote ${values.out} for stigmer v${pjson.version} (${Object.keys(artifacts).join(', ')})\n`,
  )
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main()
  } catch (error) {
    process.stderr.write(`formula: ERROR: ${error.message}\n`)
    process.exitCode = 1
  }
}

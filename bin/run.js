#!/usr/bin/env node
// Fast paths: `stigmer --version`, `stigmer --help` and `stigmer server status` answer
// without loading oclif (importing @oclif/core alone costs more than Node's own startup).
// The help text is a snapshot oclif itself rendered at build time (scripts/snapshot-help.mjs);
// it is used only when it matches this version and no user plugins are installed, which
// would add commands to it. `server status` parses the flags oclif's manifest records for
// its command class (src/fast-path.ts). Everything else goes to oclif.
import {existsSync, readFileSync} from 'node:fs'
import module from 'node:module'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const argv = process.argv.slice(2)
// fileURLToPath, not URL#pathname: an install path with a space or a non-ASCII letter is
// percent-encoded in the URL (/tmp/space%20dir/...), and a Windows path has a drive letter.
const root = fileURLToPath(new URL('..', import.meta.url))

async function fast() {
  // `server status`: run without oclif when nothing could differ (src/fast-path.ts says when).
  if (argv[0] === 'server' && argv[1] === 'status' && existsSync(join(root, 'dist', 'fast-path.js'))) {
    const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    const {runFastPath} = await import('../dist/fast-path.js')
    return runFastPath(argv, root, pjson.version)
  }

  if (argv.length !== 1 || process.env.STIGMER_NO_FAST_PATH) return false
  const [arg] = argv
  if (arg === '--version' || arg === '-v') {
    const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    process.stdout.write(`${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}\n`)
    return true
  }

  if (arg === '--help' || arg === '-h') {
    const snapshot = join(root, 'dist', 'help.json')
    if (!existsSync(snapshot)) return false
    if (process.platform === 'win32') return false
    const {hasUserPlugins} = await import('../dist/fast-path.js')
    if (hasUserPlugins()) return false
    const {help, version} = JSON.parse(readFileSync(snapshot, 'utf8'))
    const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    if (version !== pjson.version) return false
    process.stdout.write(help.replace('{{PLATFORM}}', `${process.platform}-${process.arch} node-${process.version}`))
    return true
  }

  return false
}

if (!(await fast())) {
  // Node 22.1+ keeps V8's compiled code for the modules below on disk (in Node's own cache
  // folder under the temp dir): about 10 % off every later command. A no-op on Node 20.
  // eslint-disable-next-line n/no-unsupported-features/node-builtins -- feature-tested: absent on Node 20
  module.enableCompileCache?.()
  // @oclif/core checks its own Node range with `semver` at import (about a sixth of a
  // command's startup here); the range that matters is ours, checked in package.json's engines.
  process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
  // DEBUG turns on libraries' debug output (command lines, request headers): filter it before any of them loads.
  if (process.env.DEBUG) {
    const {installDebugFilter} = await import('../dist/lib/debug-filter.js')
    installDebugFilter(argv)
  }

  // Where this CLI is, for plugins (src/lib/host.ts): recorded before oclif loads any plugin,
  // because oclif imports the commands of a plugin without a manifest (a linked one) while
  // it loads its config. The init hook then records oclif's config.root, the same folder.
  globalThis[Symbol.for('@stigmer/cli')] = Object.freeze({root})
  const {execute} = await import('@oclif/core/execute')
  await execute({dir: import.meta.url})
}

#!/usr/bin/env node
// Renders `stigmer --help` with oclif itself (80 columns, no colour) into
// dist/help.json, for bin/run.js's fast path. Run by `npm run build`.
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const help = execFileSync(process.execPath, [join(root, 'bin', 'run.js'), '--help'], {
  encoding: 'utf8',
  env: {
    ...process.env,
    COLUMNS: '80',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    STIGMER_NO_FAST_PATH: '1',
    XDG_DATA_HOME: join(root, 'tmp', 'no-plugins'),
  },
})
const platform = `${process.platform}-${process.arch} node-${process.version}`
writeFileSync(
  join(root, 'dist', 'help.json'),
  JSON.stringify({help: help.replace(platform, '{{PLATFORM}}'), version: pjson.version}) + '\n',
)

#!/usr/bin/env -S node --import tsx --no-warnings
import {execute} from '@oclif/core'
import {fileURLToPath} from 'node:url'

// Where this CLI is, for plugins (src/lib/host.ts), before oclif loads any plugin.
globalThis[Symbol.for('@stigmer/cli')] = Object.freeze({root: fileURLToPath(new URL('..', import.meta.url))})
await execute({development: true, dir: import.meta.url})

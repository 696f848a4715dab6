import {spawn} from 'node:child_process'
import {mkdirSync, rmSync} from 'node:fs'
import {dirname} from 'node:path'

import type {Endpoint, RuntimeContext} from '../engine/types.js'

import {which} from '../engine/detection/machine.js'
import {probeEndpoint} from '../engine/detection/probe.js'
import {RuntimeError} from '../engine/errors.js'

/** Seconds of idleness after which the service stigmer started exits by itself. */
export const PODMAN_SERVICE_IDLE_SECONDS = 600

/**
 * Starts `podman system service` on stigmer's own socket, detached, and waits
 * until it answers. It exits after PODMAN_SERVICE_IDLE_SECONDS without requests,
 * so nothing is left running for long; the next command starts it again.
 */
export async function startPodmanService(ep: Endpoint, ctx: RuntimeContext, timeoutMs = 15_000): Promise<void> {
  const podman = ctx.machine.which('podman') ?? which('podman', ctx.machine.env as NodeJS.ProcessEnv)
  if (!podman) throw new RuntimeError('unreachable', 'the podman binary is not on PATH')
  const socket = ep.url.replace(/^unix:\/\//, '')
  mkdirSync(dirname(socket), {mode: 0o700, recursive: true})
  rmSync(socket, {force: true})
  const child = spawn(podman, ['system', 'service', `--time=${PODMAN_SERVICE_IDLE_SECONDS}`, ep.url], {
    detached: true,
    env: ctx.machine.env as NodeJS.ProcessEnv,
    stdio: 'ignore',
  })
  let exited: number | undefined
  child.on('exit', (code) => {
    exited = code ?? -1
  })
  child.unref()
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new RuntimeError('unreachable', `podman system service exited with code ${exited}`)
    const probe = await probeEndpoint(ep, 500)
    if (probe.state === 'ok') return
    await new Promise((r) => setTimeout(r, 100))
  }

  throw new RuntimeError('timeout', `podman system service did not answer on ${socket} within ${timeoutMs / 1000} s`)
}

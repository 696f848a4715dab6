/**
 * The health check codec: the engine API's HealthConfig (nanoseconds, CMD / CMD-SHELL) to
 * stigmer's HealthcheckSpec and back, and the image label that carries the check where the
 * engine dropped HEALTHCHECK.
 */
import type Dockerode from 'dockerode'

import type {HealthcheckSpec} from '../engine/types.js'

/** The engine API's durations are nanoseconds; stigmer's are milliseconds. */
const NS = 1_000_000

/** Where the image's health check is recorded as JSON, for engines that drop HEALTHCHECK (Podman OCI images). */
export const HEALTHCHECK_LABEL = 'io.stigmer.healthcheck'

/** The engine's health check as stigmer's; undefined for none (no test, or NONE). */
export function toHealthcheckSpec(raw: Dockerode.HealthConfig | undefined): HealthcheckSpec | undefined {
  if (!raw?.Test || raw.Test.length === 0 || raw.Test[0] === 'NONE') return undefined
  const [kind, ...rest] = raw.Test
  const test = kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : kind === 'CMD' ? rest : raw.Test
  return {
    test,
    ...(raw.Interval ? {intervalMs: raw.Interval / NS} : {}),
    ...(raw.Timeout ? {timeoutMs: raw.Timeout / NS} : {}),
    ...(raw.StartPeriod ? {startPeriodMs: raw.StartPeriod / NS} : {}),
    ...(raw.Retries ? {retries: raw.Retries} : {}),
  }
}

/** stigmer's health check as the engine's HealthConfig, for a container's create body. */
export function fromHealthcheckSpec(spec: HealthcheckSpec): Dockerode.HealthConfig {
  // A shell check goes back as CMD-SHELL, the form images store: Podman 4 splits
  // the arguments of a CMD check at spaces, so ['CMD', '/bin/sh', '-c', 'a b'] would run `sh -c a`.
  const [shell, flag, script, ...extra] = spec.test
  const shellForm = shell === '/bin/sh' && flag === '-c' && script !== undefined && extra.length === 0
  return {
    Test: shellForm ? ['CMD-SHELL', script] : ['CMD', ...spec.test],
    ...(spec.intervalMs ? {Interval: spec.intervalMs * NS} : {}),
    ...(spec.timeoutMs ? {Timeout: spec.timeoutMs * NS} : {}),
    ...(spec.startPeriodMs ? {StartPeriod: spec.startPeriodMs * NS} : {}),
    ...(spec.retries ? {Retries: spec.retries} : {}),
  }
}

/** The health check an image's io.stigmer.healthcheck label records (a JSON argv); undefined for none or an unreadable one. */
export function parseHealthLabel(labels: Record<string, string> | undefined): HealthcheckSpec | undefined {
  const raw = labels?.[HEALTHCHECK_LABEL]
  if (!raw) return undefined
  try {
    const test = JSON.parse(raw) as unknown
    if (Array.isArray(test) && test.every((t) => typeof t === 'string')) {
      return toHealthcheckSpec({Test: test[0] === 'CMD' || test[0] === 'CMD-SHELL' ? test : ['CMD', ...test]})
    }
  } catch {
    // a label we cannot read is no health check
  }

  return undefined
}

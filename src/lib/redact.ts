/**
 * Secret values never reach output, logs or errors. Three rules, all here:
 * - every value of an environment variable whose name says it is a secret
 *   (`isSecretName`, the one name rule), and every value registered with
 *   `addSecret`, is replaced by '****' wherever it appears;
 * - `NAME=value` where NAME is a secret name shows as `NAME=****`;
 * - `"NAME": "value"` and `NAME: 'value'` (JSON, debug dumps) likewise;
 * - the password of a URL (`scheme://user:password@host`) shows as `****`.
 * Text output goes through `redact`, --json results through `redactJson`
 * (the base command does both: see "Security" in docs/architecture.md).
 */
const secrets = new Set<string>()

// A whole name segment (API_KEY, DB_PASS, GITHUB_PAT, BASIC_AUTH), or a segment ending in one of the
// unambiguous words (DBPASSWORD, MY_PASSPHRASE, GHTOKEN); MAX_TOKENS, TOKENIZER, AUTHOR, KEYBOARD are not secrets.
// Segments are split by '_' or '-' (X-Registry-Auth is a header name).
const SECRET_NAME =
  /(^|[_-])(API_?KEY|ACCESS_?KEY|AUTH|CREDENTIALS?|DSN|PASS|PAT|PRIVATE_?KEY|SESSION_?KEY|SIGNING_?KEY)($|[_-])|(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|APIKEY)($|[_-])/i

// scheme://user:password@ : keeps the scheme and user, hides the password.
const URL_CREDENTIALS = /\b([a-z][\d+.a-z-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi
// NAME=value in free text (argv, build args, env dumps), for secret NAMEs.
const ASSIGNMENT = /\b([A-Z_a-z]\w*)=([^\s"&',;]+)/g
// name: 'value' / "name": "value" (JSON, util.inspect, debug dumps of request options and headers), for secret names.
const QUOTED_FIELD = /(["']?)([A-Z_a-z][\w-]*)\1(\s*:\s*)(["'])((?:\\.|(?!\4)[^\\])*)\4/g

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name)
}

export function addSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value)
}

/** The password of every URL in `text`, masked. */
export function maskUrlCredentials(text: string): string {
  return text.includes('://') ? text.replaceAll(URL_CREDENTIALS, '$1****@') : text
}

/** A variable's value as stigmer shows it: masked when its name is a secret, URL passwords always. */
export function maskValue(name: string, value: string): string {
  return isSecretName(name) ? (value === '' ? '' : '****') : maskUrlCredentials(value)
}

/** Registers the secret-looking values of an environment (the host's, or a container's). */
export function addSecretsFromEnv(env: Readonly<Record<string, string | undefined>>): void {
  for (const [name, value] of Object.entries(env)) if (isSecretName(name)) addSecret(value)
}

export function redact(text: string): string {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('****')
  }

  out = maskUrlCredentials(out)
  if (out.includes('='))
    out = out.replaceAll(ASSIGNMENT, (all, name: string) => (isSecretName(name) ? `${name}=****` : all))
  if (out.includes(':'))
    out = out.replaceAll(QUOTED_FIELD, (...m: string[]) => {
      const [all, q, name, colon, quote, value] = m as [string, string, string, string, string, string]
      return isSecretName(name) && value !== '' ? `${q}${name}${q}${colon}${quote}****${quote}` : all
    })
  return out
}

/**
 * A --json result with every string redacted and the value of every key that
 * is a secret name masked (`buildArgs: {API_TOKEN: ...}`, `env: {...}`).
 */
export function redactJson<T>(value: T): T {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') return key !== undefined && isSecretName(key) && v !== '' ? '****' : redact(v)
    if (Array.isArray(v)) return v.map((item) => walk(item))
    if (v !== null && typeof v === 'object') {
      if (typeof (v as {toJSON?: unknown}).toJSON === 'function') return walk((v as {toJSON(): unknown}).toJSON(), key)
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, k)]))
    }

    return v
  }

  return walk(value) as T
}

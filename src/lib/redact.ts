/**
 * Secret values never reach output, logs or errors. Every value of an
 * environment variable whose name says it is a secret, and every value
 * registered with `addSecret`, is replaced by '****' in text that stigmer
 * prints. `isSecretName` is the one rule for which names are secrets.
 */
const secrets = new Set<string>()

const SECRET_NAME = /(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY|AUTH)($|_)/i

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name)
}

export function addSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value)
}

export function maskValue(name: string, value: string): string {
  return isSecretName(name) ? (value === '' ? '' : '****') : value
}

/** Registers the secret-looking values of an environment. */
export function addSecretsFromEnv(env: Readonly<Record<string, string | undefined>>): void {
  for (const [name, value] of Object.entries(env)) if (isSecretName(name)) addSecret(value)
}

export function redact(text: string): string {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('****')
  }

  return out
}

/**
 * What `image build` records about the source's git checkout: the commit (for
 * REVISION and the dev-<sha> tag), whether the tree has uncommitted changes,
 * and the origin remote (for SOURCE). No git, not a checkout, or a git that
 * refuses the folder (safe.directory): undefined, and the build goes on.
 */
export interface GitInfo {
  /** Full commit id of HEAD. */
  readonly revision: string
  readonly dirty: boolean
  /** The origin remote as a browsable https URL, credentials removed; undefined when there is none. */
  readonly remote: string | undefined
}

/** git@github.com:org/repo.git -> https://github.com/org/repo; https://user:token@host/x.git -> https://host/x. */
export function publicRemoteUrl(remote: string): string | undefined {
  const text = remote.trim()
  if (text === '') return undefined
  const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+?)(?:\.git)?\/?$/.exec(text)
  if (scp) return `https://${scp[1]}/${scp[2]}`
  try {
    const url = new URL(text)
    if (url.protocol === 'file:') return undefined
    url.username = ''
    url.password = ''
    const protocol = url.protocol === 'ssh:' || url.protocol === 'git:' ? 'https:' : url.protocol
    return `${protocol}//${url.host}${url.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '')}`
  } catch {
    return undefined
  }
}

export async function gitInfo(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<GitInfo | undefined> {
  const {execa} = await import('execa')
  const git = async (...args: string[]) => {
    const result = await execa('git', ['-C', dir, ...args], {
      env: {...env, GIT_TERMINAL_PROMPT: '0'},
      reject: false,
      timeout: 15_000,
    })
    return result.exitCode === 0 ? String(result.stdout).trim() : undefined
  }

  const revision = await git('rev-parse', '--verify', '--quiet', 'HEAD')
  if (!revision || !/^[\da-f]{40,64}$/.test(revision)) return undefined
  const [status, remote] = await Promise.all([
    git('status', '--porcelain', '--', '.'),
    git('remote', 'get-url', 'origin'),
  ])
  return {dirty: status !== undefined && status !== '', remote: remote ? publicRemoteUrl(remote) : undefined, revision}
}

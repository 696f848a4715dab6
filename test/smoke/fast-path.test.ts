/**
 * bin/run.js's fast path for `server status` (src/fast-path.ts): it runs the command
 * without oclif, with the flags oclif's manifest records for the command class. What a user
 * sees must not depend on which path ran: these run the built CLI both ways
 * (STIGMER_NO_FAST_PATH=1 is oclif's) and compare stdout, stderr and the exit code; and they
 * check that what the fast path does not read (unknown flags, help, a linked plugin) is
 * oclif's. The engine suites check status's output against real containers.
 */
import {expect} from 'chai'
import {join} from 'node:path'

import {type CliResult, REPO_ROOT, runCli, tempDir} from '../helpers/lab.js'

const OCLIF = {STIGMER_NO_FAST_PATH: '1'}
const seen = (r: CliResult) => ({code: r.code, stderr: r.stderr, stdout: r.stdout})

describe('server status: the fast path and oclif', () => {
  const cases: Array<{args: string[]; env: Record<string, string>; name: string}> = [
    {args: ['--runtime', 'bogus'], env: {}, name: '--runtime bogus'},
    {args: ['--json', '--runtime=bogus'], env: {}, name: '--json --runtime=bogus'},
    {args: [], env: {STIGMER_CONTAINER_RUNTIME: 'bogus'}, name: 'STIGMER_CONTAINER_RUNTIME=bogus'},
    {args: [], env: {DOCKER_HOST: 'tcp//oops'}, name: 'a malformed DOCKER_HOST'},
    {args: ['--json'], env: {DOCKER_HOST: 'tcp//oops'}, name: 'a malformed DOCKER_HOST, --json'},
    {
      args: ['--runtime', 'docker'],
      env: {DOCKER_HOST: 'unix:///nonexistent/stigmer-fast-path.sock'},
      name: 'an engine that does not answer (exit 11)',
    },
    {
      args: ['--json', '--runtime', 'docker'],
      env: {DOCKER_HOST: 'unix:///nonexistent/stigmer-fast-path.sock', STIGMER_CONTENT_TYPE: 'json'},
      name: 'the same under --json and STIGMER_CONTENT_TYPE=json',
    },
  ]
  for (const {args, env, name} of cases) {
    it(`${name}: the same stdout, stderr and exit code both ways`, async () => {
      const fast = await runCli(['server', 'status', ...args], {env})
      const oclif = await runCli(['server', 'status', ...args], {env: {...env, ...OCLIF}})
      expect(fast.code, fast.stderr).to.be.greaterThan(0)
      expect(seen(fast)).to.deep.equal(seen(oclif))
    })
  }

  it('what the fast path does not read is oclif’s: an unknown flag, a missing value, an argument, --help', async () => {
    const unknown = await runCli(['server', 'status', '--bogus'])
    expect(unknown.code).to.equal(2)
    expect(unknown.stderr).to.contain('Nonexistent flag: --bogus')
    const missing = await runCli(['server', 'status', '--runtime'])
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.contain('--runtime expects a value')
    const extra = await runCli(['server', 'status', 'now'])
    expect(extra.code).to.equal(2)
    expect(extra.stderr).to.contain('"server status now" is not a stigmer command.')
    const help = await runCli(['server', 'status', '--help'])
    expect(help.code).to.equal(0)
    expect(help.stdout).to.contain('Show the state and health of the agent-runner container.')
    expect(help.stdout).to.contain('--runtime=<value>').and.contain('--json')
  })

  it('with a linked plugin, oclif runs it: the runtime the plugin contributes is known', async () => {
    const dataHome = tempDir('fast-path-data')
    const env = {
      DOCKER_HOST: 'unix:///nonexistent/stigmer-fast-path.sock',
      STIGMER_DATA_DIR: undefined as unknown as string,
      XDG_DATA_HOME: dataHome,
    }
    const fixture = join(REPO_ROOT, 'test', 'fixtures', 'plugin-runtime')
    const link = await runCli(['plugins', 'link', fixture, '--no-install'], {env})
    expect(link.code, link.stderr).to.equal(0)
    const status = await runCli(['server', 'status', '--runtime', 'docker-alias', '--json'], {env})
    expect(status.stdout).to.not.contain('Unknown container runtime')
    expect(status.code, status.stdout).to.equal(11)
    expect(status.stdout).to.contain('docker-alias: unix:///nonexistent/stigmer-fast-path.sock')
  })
})

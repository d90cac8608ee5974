/**
 * `mxcast token` and `mxcast relay` as a user runs them: a token printed by `token create` is
 * accepted by the relay started on the same data dir; bad arguments and a bad config are one line
 * on stderr and exit code 2.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../bin/mxcast.js');
const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-cli-relay-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const run = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('mxcast token / relay', () => {
  it('creates a token the relay accepts, prints the URL and stops on SIGINT', async () => {
    const created = run(['token', 'create', '@alice:localhost', '--data', dataDir]);
    expect(created.status).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^mxct_[A-Za-z0-9_-]{43}$/);

    const child = spawn(process.execPath, [BIN, 'relay', '--port', '0', '--data', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await new Promise<string>((ok, fail) => {
      child.stdout.on('data', (d: Buffer) => ok(d.toString().trim()));
      child.once('exit', (code) => fail(new Error(`exited ${code}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const bad = await fetch(`${url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { Authorization: 'Bearer nope' },
    });
    expect(bad.status).toBe(401);
    const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    child.kill('SIGINT');
    expect(await code).toBe(0);
  }, 60_000);

  it('refuses bad user ids, bad options and bad configs with one line and exit code 2', () => {
    const badUser = run(['token', 'create', 'alice', '--data', dataDir]);
    expect([badUser.status, badUser.stderr.trim().split('\n')]).toEqual([
      2,
      [expect.stringContaining('not a Matrix user id')],
    ]);
    const config = join(dataDir, 'bad.json');
    writeFileSync(config, JSON.stringify({ limits: { maxMediaBytes: 'big' } }));
    const badConfig = run(['relay', '--port', '0', '--data', dataDir, '--config', config]);
    expect([badConfig.status, badConfig.stderr.trim().split('\n')]).toEqual([
      2,
      [expect.stringContaining('limits.maxMediaBytes')],
    ]);
    const badPort = run(['relay', '--port', 'x']);
    expect(badPort.status).toBe(2);
    expect(run(['relay', '--help']).stdout).toContain('--config FILE');
  }, 60_000);
});

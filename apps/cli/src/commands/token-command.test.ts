/**
 * `mxcast token create|list|revoke` as a user runs them (the real bin): list shows ids, users and
 * times but never a token; revoke by token, id or user; mistakes are one line with a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../bin/mxcast.js');
const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-cli-token-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const run = (args: string[]) =>
  spawnSync(process.execPath, [BIN, 'token', ...args], { encoding: 'utf8', timeout: 60_000 });
const lines = (s: string) => s.trim().split('\n').filter(Boolean);

describe('mxcast token list / revoke', () => {
  it('lists ids, times and users (never a token) and revokes by token, id and user', () => {
    const tokens = ['@alice:localhost', '@alice:localhost', '@bob:localhost'].map((u) => {
      const r = run(['create', u, '--data', dataDir]);
      expect(r.status).toBe(0);
      return r.stdout.trim();
    });
    const listed = run(['list', '--data', dataDir]);
    expect(listed.status).toBe(0);
    const rows = lines(listed.stdout);
    expect(rows).toHaveLength(3);
    for (const row of rows)
      expect(row).toMatch(
        /^[0-9a-f]{8} {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}@(alice|bob):localhost$/,
      );
    for (const token of tokens) {
      expect(listed.stdout).not.toContain(token);
      expect(listed.stdout).not.toContain(token.slice(5, 13));
    }

    const byToken = run(['revoke', tokens[0] ?? '', '--data', dataDir]);
    expect([byToken.status, byToken.stdout.trim()]).toEqual([0, 'revoked 1 token']);
    expect(lines(run(['list', '--data', dataDir]).stdout)).toHaveLength(2);

    const bobId = lines(run(['list', '--data', dataDir]).stdout)
      .find((l) => l.endsWith('@bob:localhost'))
      ?.slice(0, 8);
    const byId = run(['revoke', '--id', bobId ?? '', '--data', dataDir]);
    expect(byId.status).toBe(0);
    const byUser = run(['revoke', '--user', '@alice:localhost', '--data', dataDir]);
    expect([byUser.status, byUser.stdout.trim()]).toEqual([0, 'revoked 1 token']);
    expect(run(['list', '--data', dataDir]).stdout).toBe('');

    const again = run(['revoke', tokens[2] ?? '', '--data', dataDir]);
    expect([again.status, lines(again.stderr)]).toEqual([
      1,
      [expect.stringContaining('no token matched')],
    ]);
  });

  it.each([
    [['revoke', '--data', '%D'], 2, 'exactly one of'],
    [['revoke', 'mxct_x', '--user', '@a:b', '--data', '%D'], 2, 'exactly one of'],
    [['revoke', '--id', 'zz', '--data', '%D'], 2, 'not a token id'],
    [['list', 'extra', '--data', '%D'], 2, "unexpected argument 'extra'"],
    [['list', '--user', '@a:b', '--data', '%D'], 2, '--id and --user belong'],
    [['frob', '--data', '%D'], 2, "expected 'token create|list|revoke'"],
    [['list', '--data', '%D/missing'], 2, 'no relay database'],
  ])('token %j → exit %i, one line', (args, status, message) => {
    const r = run(args.map((a) => a.replace('%D', dataDir)));
    expect([r.status, lines(r.stderr)]).toEqual([status, [expect.stringContaining(message)]]);
  });

  it('--help describes all three actions', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const word of ['token create', 'token list', 'token revoke', '--user', '--id'])
      expect(r.stdout).toContain(word);
  });
});

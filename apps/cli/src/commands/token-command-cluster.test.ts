/**
 * `mxcast token … --cluster nats://…` as a user runs it (the real bin) against a real nats-server
 * with JetStream: tokens land in the cluster's token bucket, list and revoke work there exactly as
 * with --data, and bad flags are one line with exit 2.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startNatsServer,
  type NatsServer,
} from '../../../relay/src/testing/nats-server-fixture.ts';
import { JetStreamTokenBucket } from '../../../relay/src/storage/jetstream-token-bucket.ts';
import { hashToken } from '../../../relay/src/core/token-store.ts';

const BIN = resolve(import.meta.dirname, '../../bin/mxcast.js');

/** Async spawn: the nats-server child of this process must keep running while the bin waits. */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'token', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}
const lines = (s: string) => s.trim().split('\n').filter(Boolean);

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

describe('mxcast token --cluster', () => {
  it('creates, lists and revokes tokens in the cluster token bucket', async () => {
    const alice = await run(['create', '@alice:localhost', '--cluster', nats.url]);
    expect([alice.status, alice.stderr]).toEqual([0, '']);
    const token = alice.stdout.trim();
    expect(token).toMatch(/^mxct_[A-Za-z0-9_-]{43}$/);
    const bob = await run(['create', '@bob:localhost', '--cluster', `${nats.url},${nats.url}`]);
    expect(bob.status).toBe(0);
    // What a relay node reads: the hash, never the token, maps to the user.
    const user = await JetStreamTokenBucket.with([nats.url], (b) => b.user(hashToken(token)));
    expect(user).toBe('@alice:localhost');

    const listed = await run(['list', '--cluster', nats.url]);
    const rows = lines(listed.stdout);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^[0-9a-f]{8} {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}@alice:localhost$/);
    expect(listed.stdout).not.toContain(token);

    const bobId = rows[1]?.slice(0, 8) ?? '';
    expect((await run(['revoke', '--id', bobId, '--cluster', nats.url])).stdout.trim()).toBe(
      'revoked 1 token',
    );
    expect((await run(['revoke', token, '--cluster', nats.url])).stdout.trim()).toBe(
      'revoked 1 token',
    );
    expect((await run(['list', '--cluster', nats.url])).stdout).toBe('');
    const again = await run(['revoke', '--user', '@alice:localhost', '--cluster', nats.url]);
    expect([again.status, lines(again.stderr)]).toEqual([
      1,
      [expect.stringContaining('no token matched')],
    ]);
  });

  it.each([
    [['list', '--cluster', 'http://127.0.0.1:4222'], 'not a nats://HOST:PORT URL'],
    [['list', '--cluster', ''], 'no server given'],
    [['list', '--cluster', 'nats://127.0.0.1:4222', '--data', '/tmp'], '--data or --cluster'],
    [['create', 'alice', '--cluster', '%N'], 'not a Matrix user id'],
  ])('refuses %j with one line, exit 2', async (args, message) => {
    const r = await run(args.map((a) => (a === '%N' ? nats.url : a)));
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringContaining(message)]);
  });
});

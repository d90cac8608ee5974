/**
 * `mxcast token revoke` against a running relay ends the connections the token opened, not only
 * its next requests (docs/operations.md "Tokens"): a streaming upload in progress and a WebSocket
 * listener that carried the token are closed within a few seconds, while a connection of another
 * user's token stays, and what the upload stored before the cut stays stored.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { bin } from '../capture/capture-harness.ts';
import { createMedia, useHostileRelay, type HostileRelay } from './hostile-harness.ts';

const P = '/_matrix/media/unstable/org.matrix.msc4016';
/** The relay re-checks open connections' tokens every second; this allows for a loaded machine. */
const CUT_WITHIN_MS = 8000;

function mxcast(args: string[]): string {
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

async function gauge(relay: HostileRelay, name: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function until(what: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A streaming PUT that sends the magic and one block, then keeps its body open. */
function openUpload(relay: HostileRelay, mediaPath: string, token: string) {
  const req = http.request(`${relay.url}/_matrix/media/v3/upload/${mediaPath}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/octet-stream',
      'transfer-encoding': 'chunked',
    },
  });
  let closedAt = 0;
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      closedAt ||= Date.now();
      resolve();
    };
    req.on('error', done);
    req.on('close', done);
    req.on('response', (res) => {
      res.resume();
      res.on('close', done);
    });
  });
  req.write(MAGIC);
  req.write(encodeBlock(0, new Uint8Array(64)));
  return { req, closed, closedAt: () => closedAt };
}

function openListener(relay: HostileRelay, mediaPath: string, token: string) {
  const ws = new WebSocket(`${relay.url.replace('http', 'ws')}${P}/ws/${mediaPath}?from=live`, {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on('error', () => {});
  const open = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`refused ${res.statusCode}`)));
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  return { ws, open, closed };
}

describe('token revoke on open connections', () => {
  const relay = useHostileRelay();

  it('closes the revoked token’s upload and WebSocket listener, and nobody else’s', async () => {
    const r = relay();
    const other = mxcast(['token', 'create', '@other:localhost', '--data', r.dataDir])
      .trim()
      .split(/\s+/)
      .pop() as string;
    const media = await createMedia(r);
    const upload = openUpload(r, media, r.token);
    await until(async () => (await gauge(r, 'mxcast_uploads_active')) === 1, 5000);
    const listener = openListener(r, media, r.token);
    const bystander = openListener(r, media, other);
    await Promise.all([listener.open, bystander.open]);
    // The upload's block reached the store (and the listeners had nothing to be cut for).
    await until(async () => {
      const res = await fetch(`${r.url}${P}/index/${media}`);
      return res.ok && ((await res.json()) as { block_count?: number }).block_count === 1;
    }, 5000);

    const revokedAt = Date.now();
    expect(mxcast(['token', 'revoke', r.token, '--data', r.dataDir])).toBeDefined();
    const cut = Promise.all([upload.closed, listener.closed]);
    await Promise.race([
      cut,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('not cut after the revoke')), CUT_WITHIN_MS),
      ),
    ]);
    expect(upload.closedAt() - revokedAt).toBeLessThan(CUT_WITHIN_MS);
    expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
    await until(async () => (await gauge(r, 'mxcast_uploads_active')) === 0, 5000);

    // What was stored before the cut is kept: the block is still there.
    const index = (await (await fetch(`${r.url}${P}/index/${media}`)).json()) as {
      block_count?: number;
    };
    expect(index.block_count).toBe(1);
    // And the token is refused from then on (the per-request check).
    const again = await fetch(`${r.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.token}` },
    });
    expect(again.status).toBe(401);
    bystander.ws.close();
  });
});

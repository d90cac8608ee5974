/**
 * The relay as the homeserver's streaming media repository (docs/matrix.md "Homeserver mode"),
 * against the real stack: Synapse in its chroot, `mxcast relay --homeserver` (through a counting
 * proxy in front of Synapse, so the whoami requests the relay sends are counted where they
 * arrive), and nginx with the repository's routing. Synapse tokens create, upload and download;
 * Synapse's own media still work through the relay's 404 fallback; Synapse stopped (SIGSTOP) is
 * a 502 with a reason and loses nothing; a `kill -9`ed `mxcast capture` leaves its broadcast
 * interrupted, a resumed capture clears it, and the max idle time ends it.
 */
import { createServer, request, type Server } from 'node:http';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBlock, MAGIC } from '@mxcast/format';
import {
  killAndWait,
  linkFrom,
  runCapture,
  tempDir,
  type CliRun,
} from '../capture/capture-harness.ts';
import { parseListenLink } from '@mxcast/client';
import { startMatrixStack, type MatrixStack } from './matrix-stack.ts';
import { bearer, registerUser, uploadSynapseImage, type MatrixUser } from './matrix-users.ts';
import { tinyPng } from './tiny-png.ts';
import { until } from './poll-until.ts';

const INTERRUPTED_AFTER_MS = 1500;
const MAX_IDLE_LIVE_MS = 6000;

/** An HTTP proxy to `target` counting the whoami requests that pass. */
function countingProxy() {
  const state = { target: '', whoami: 0, url: '', server: null as Server | null };
  state.server = createServer((req, res) => {
    if (req.url === '/_matrix/client/v3/account/whoami') state.whoami++;
    const up = request(
      `${state.target}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return state;
}

const proxy = countingProxy();
let stack: MatrixStack;
let alice: MatrixUser;
let bob: MatrixUser;
const captures: CliRun[] = [];

beforeAll(async () => {
  await new Promise<void>((r) => proxy.server?.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(proxy.server?.address() as { port: number }).port}`;
  const dir = tempDir('mxcast-hs-');
  const config = path.join(dir, 'relay.json');
  writeFileSync(
    config,
    JSON.stringify({
      limits: {
        interruptedAfterMs: INTERRUPTED_AFTER_MS,
        maxIdleLiveMs: MAX_IDLE_LIVE_MS,
        homeserverTimeoutMs: 1500,
      },
    }),
  );
  stack = await startMatrixStack({
    relayHomeserver: {
      via: (synapseUrl) => {
        proxy.target = synapseUrl;
        return proxy.url;
      },
    },
    relayArgs: ['--config', config],
  });
  alice = await registerUser(stack, 'alice', 'alice-password-1');
  bob = await registerUser(stack, 'bob', 'bob-password-1');
}, 900_000);
afterAll(async () => {
  for (const c of captures) await killAndWait(c.child).catch(() => undefined);
  await stack?.stop();
  proxy.server?.closeAllConnections();
  proxy.server?.close();
});

const P = '/_matrix/media/unstable/org.matrix.msc4016';

function stream(blocks: number): Buffer {
  const parts: Uint8Array[] = [MAGIC];
  for (let i = 0; i < blocks; i++) parts.push(encodeBlock(i, new Uint8Array(200).fill(i)));
  return Buffer.concat(parts);
}

async function createAndUpload(
  token: string,
  bytes: Buffer,
): Promise<{ server: string; id: string }> {
  const created = await fetch(`${stack.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: bearer(token),
  });
  expect(created.status).toBe(200);
  const { content_uri: mxc } = (await created.json()) as { content_uri: string };
  expect(mxc.startsWith(`mxc://${stack.serverName}/`)).toBe(true);
  const [server = '', id = ''] = mxc.slice('mxc://'.length).split('/');
  const put = await fetch(`${stack.url}/_matrix/media/v3/upload/${server}/${id}`, {
    method: 'PUT',
    headers: bearer(token),
    body: new Uint8Array(bytes),
  });
  expect(put.status).toBe(200);
  return { server, id };
}

async function indexOf(mxc: string, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.relayUrl}${P}/index/${mxc.slice('mxc://'.length)}`, {
    headers: bearer(token),
  });
  if (res.status !== 200) throw new Error(`index: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** This stack's Synapse process: its command line names the stack's directory (one pid, exec'd). */
function synapsePid(s: MatrixStack): number {
  const name = path.basename(s.dir);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (cmd.includes('synapse.app.homeserver') && cmd.includes(name)) return Number(entry);
  }
  throw new Error(`no Synapse process for ${name}`);
}

describe('relay in homeserver mode behind nginx', () => {
  let media: { server: string; id: string };
  const bytes = stream(5);

  it("a Synapse user's token creates and uploads through nginx; a wrong token is 401 M_UNKNOWN_TOKEN", async () => {
    media = await createAndUpload(alice.accessToken, bytes);
    for (const token of ['syt_not_a_token', alice.relayToken]) {
      const res = await fetch(`${stack.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: bearer(token),
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    }
  });

  it('downloads need a token; N downloads cost one whoami at Synapse', async () => {
    const url = `${stack.url}/_matrix/client/v1/media/download/${media.server}/${media.id}`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ errcode: 'M_MISSING_TOKEN' });
    const before = proxy.whoami;
    for (let i = 0; i < 20; i++) {
      const res = await fetch(url, { headers: bearer(bob.accessToken) });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
    expect(proxy.whoami - before).toBe(1);
  });

  it("Synapse's own media (an image) still downloads through nginx, and unknown ids are Synapse's 404", async () => {
    const png = tinyPng(32, 32);
    const uri = await uploadSynapseImage(stack.url, alice.accessToken, png);
    const down = await fetch(
      `${stack.url}/_matrix/client/v1/media/download/${uri.slice('mxc://'.length)}`,
      { headers: bearer(bob.accessToken) },
    );
    expect(down.status).toBe(200);
    expect(Buffer.from(await down.arrayBuffer()).equals(png)).toBe(true);
    // An id the relay does not hold is its 404 before any token check (so nginx asks Synapse)…
    const unknown = `/_matrix/client/v1/media/download/${stack.serverName}/${'A'.repeat(24)}`;
    const atRelay = await fetch(`${stack.relayUrl}${unknown}`);
    expect(atRelay.status).toBe(404);
    expect(await atRelay.json()).toMatchObject({ errcode: 'M_NOT_FOUND' });
    // … and through nginx Synapse answers it: its own 401 without a token, its 404 with one.
    expect((await fetch(`${stack.url}${unknown}`)).status).toBe(401);
    const missing = await fetch(`${stack.url}${unknown}`, { headers: bearer(bob.accessToken) });
    expect(missing.status).toBe(404);
  });

  it('Synapse stopped: a clear 502 with a reason, nothing stored lost, recovery when it is back', async () => {
    const carol = await registerUser(stack, 'carol', 'carol-password-1');
    const pid = synapsePid(stack);
    process.kill(pid, 'SIGSTOP');
    try {
      const res = await fetch(`${stack.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: bearer(carol.accessToken),
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({
        errcode: 'M_UNKNOWN',
        'org.matrix.msc4016.reason': 'HOMESERVER_UNAVAILABLE',
      });
      // A token checked before the outage is still cached: the stored media is whole.
      const down = await fetch(
        `${stack.relayUrl}/_matrix/client/v1/media/download/${media.server}/${media.id}`,
        { headers: bearer(bob.accessToken) },
      );
      expect(Buffer.from(await down.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const again = await fetch(`${stack.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: bearer(carol.accessToken),
    });
    expect(again.status).toBe(200);
  });

  it('a kill -9ed capture is interrupted within the configured time, a resumed one clears it, the max idle time ends it', async () => {
    const dir = tempDir('mxcast-hs-capture-');
    const statePath = path.join(dir, 'state.json');
    const passFile = path.join(dir, 'pass');
    writeFileSync(passFile, 'a long passphrase\n');
    chmodSync(passFile, 0o600);
    const relay = { url: stack.relayUrl, token: alice.accessToken };
    const common = ['--input', 'sine:440', '--realtime', '--passphrase-file', passFile];
    const first = runCapture(relay, [...common, '--state', statePath]);
    captures.push(first);
    await first.waitFor('/listen#');
    const { mxc } = parseListenLink(linkFrom(first.stdout()));
    await until(
      'blocks',
      async () => ((await indexOf(mxc, bob.accessToken)).block_count as number) > 3,
      10_000,
    );
    expect((await indexOf(mxc, bob.accessToken)).interrupted).toBe(false);

    await killAndWait(first.child, 'SIGKILL');
    const killedAt = Date.now();
    await until(
      'interrupted',
      async () => (await indexOf(mxc, bob.accessToken)).interrupted === true,
      INTERRUPTED_AFTER_MS + 5000,
    );
    const took = Date.now() - killedAt;
    console.log(
      `interrupted ${took} ms after kill -9 (interruptedAfterMs ${INTERRUPTED_AFTER_MS})`,
    );
    expect(took).toBeLessThan(INTERRUPTED_AFTER_MS + 2000);
    expect((await indexOf(mxc, bob.accessToken)).state).toBe('live');

    const second = runCapture(relay, [...common, '--resume', statePath]);
    captures.push(second);
    await second.waitFor('resuming');
    await until(
      'resumed',
      async () => (await indexOf(mxc, bob.accessToken)).interrupted === false,
      10_000,
    );
    const blocks = (await indexOf(mxc, bob.accessToken)).block_count as number;

    await killAndWait(second.child, 'SIGKILL');
    await until(
      'ended after the max idle time',
      async () => (await indexOf(mxc, bob.accessToken)).state === 'complete',
      MAX_IDLE_LIVE_MS + 5000,
    );
    const ended = await indexOf(mxc, bob.accessToken);
    expect(ended.block_count as number).toBeGreaterThanOrEqual(blocks);
    expect(ended.sha256).toEqual(expect.any(String));
    expect(ended.interrupted).toBeUndefined();
  });
});

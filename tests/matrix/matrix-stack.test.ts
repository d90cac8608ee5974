/**
 * The development Matrix stack end to end (docs/matrix.md): real Synapse (Debian's, in the
 * cached sid chroot), a real `mxcast relay` process and the host's nginx with the repository's
 * routing (deploy/matrix/nginx-matrix.conf.template), all on loopback. Every request below goes
 * through nginx except the shared-secret registration, which goes to Synapse's own port.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaClient, type ListenEvent } from '@mxcast/client';
import { HLS_PATH } from '@mxcast/protocol';
import { encodeBlock, MAGIC } from '@mxcast/format';
import { startMatrixStack, type MatrixStack } from './matrix-stack.ts';
import {
  bearer,
  login,
  matrixCall,
  registerUser,
  uploadSynapseImage,
  type MatrixUser,
} from './matrix-users.ts';
import { tinyPng } from './tiny-png.ts';

let stack: MatrixStack;
let alice: MatrixUser;
let bob: MatrixUser;

beforeAll(async () => {
  // A cold chroot build (first run on a machine) takes a minute or more; later starts seconds.
  stack = await startMatrixStack();
  console.log(`matrix stack up: ${JSON.stringify(stack.startupMs)} ms`);
  alice = await registerUser(stack, 'alice', 'alice-password-1');
  bob = await registerUser(stack, 'bob', 'bob-password-1');
}, 900_000);
afterAll(async () => {
  await stack?.stop();
});

describe('the Matrix stack through nginx', () => {
  it('serves the client API from Synapse and no federation API', async () => {
    const versions = await matrixCall<{ versions: string[] }>(
      stack.url,
      'GET',
      '/_matrix/client/versions',
    );
    expect(versions.versions).toContain('v1.11');
    // No federation listener: the server-server API and key server are not served at all.
    for (const p of ['/_matrix/federation/v1/version', '/_matrix/key/v2/server']) {
      const res = await fetch(`${stack.url}${p}`);
      await res.arrayBuffer();
      expect(res.status, p).toBe(404);
    }
  });

  it('logs two registered users in with their passwords', async () => {
    for (const user of [alice, bob]) {
      const session = await login(stack, user);
      expect(session.userId).toBe(user.userId);
      expect(session.accessToken).not.toBe(user.accessToken);
      const me = await matrixCall<{ user_id: string; device_id: string }>(
        stack.url,
        'GET',
        '/_matrix/client/v3/account/whoami',
        { token: session.accessToken },
      );
      expect(me).toMatchObject({ user_id: user.userId, device_id: session.deviceId });
    }
    const wrong = await fetch(`${stack.url}/_matrix/client/v3/login`, {
      method: 'POST',
      body: JSON.stringify({
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: alice.userId },
        password: 'not-her-password',
      }),
    });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });

  it('creates an encrypted room where bob joins and reads alice message', async () => {
    const { room_id: roomId } = await matrixCall<{ room_id: string }>(
      stack.url,
      'POST',
      '/_matrix/client/v3/createRoom',
      {
        token: alice.accessToken,
        body: {
          preset: 'private_chat',
          invite: [bob.userId],
          initial_state: [
            {
              type: 'm.room.encryption',
              state_key: '',
              content: { algorithm: 'm.megolm.v1.aes-sha2' },
            },
          ],
        },
      },
    );
    const room = encodeURIComponent(roomId);
    await matrixCall(stack.url, 'POST', `/_matrix/client/v3/rooms/${room}/join`, {
      token: bob.accessToken,
      body: {},
    });
    const encryption = await matrixCall<{ algorithm: string }>(
      stack.url,
      'GET',
      `/_matrix/client/v3/rooms/${room}/state/m.room.encryption/`,
      { token: bob.accessToken },
    );
    expect(encryption.algorithm).toBe('m.megolm.v1.aes-sha2');

    const body = `hello bob ${randomBytes(6).toString('hex')}`;
    const sent = await matrixCall<{ event_id: string }>(
      stack.url,
      'PUT',
      `/_matrix/client/v3/rooms/${room}/send/m.room.message/txn-${Date.now()}`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body } },
    );
    const page = await matrixCall<{
      chunk: { event_id: string; sender: string; content: { body?: string } }[];
    }>(stack.url, 'GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=10`, {
      token: bob.accessToken,
    });
    const got = page.chunk.find((e) => e.event_id === sent.event_id);
    expect(got).toMatchObject({ sender: alice.userId, content: { body } });
  });

  it("keeps Synapse's own media working: an image uploads and downloads byte-identical with auth", async () => {
    const png = tinyPng(64, 48);
    const uri = await uploadSynapseImage(stack.url, alice.accessToken, png);
    expect(uri).toMatch(new RegExp(`^mxc://${stack.serverName}/[A-Za-z0-9_-]+$`));
    const mediaPath = `/_matrix/client/v1/media/download/${uri.slice('mxc://'.length)}`;

    // The relay answers 404 for an id it does not hold; nginx retries on Synapse.
    const down = await fetch(`${stack.url}${mediaPath}`, { headers: bearer(bob.accessToken) });
    expect(down.status).toBe(200);
    expect(down.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await down.arrayBuffer()).equals(png)).toBe(true);
    const named = await fetch(`${stack.url}${mediaPath}/tiny.png`, {
      headers: bearer(bob.accessToken),
    });
    expect(Buffer.from(await named.arrayBuffer()).equals(png)).toBe(true);

    // Authenticated media: Synapse itself refuses the same download without a token.
    const anonymous = await fetch(`${stack.url}${mediaPath}`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ errcode: 'M_MISSING_TOKEN' });
    const unknown = await fetch(
      `${stack.url}/_matrix/client/v1/media/download/${stack.serverName}/${'x'.repeat(24)}`,
      { headers: bearer(bob.accessToken) },
    );
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errcode: 'M_NOT_FOUND' });

    const thumb = await fetch(
      `${stack.url}/_matrix/client/v1/media/thumbnail/${uri.slice('mxc://'.length)}?width=32&height=32&method=scale`,
      { headers: bearer(bob.accessToken) },
    );
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toMatch(/^image\//);
  });

  it("routes the relay's streaming media paths to the relay: create, PUT, index, download, listen socket", async () => {
    const client = new MediaClient({ baseUrl: stack.url, accessToken: alice.relayToken });
    const { mxc } = await client.create();
    expect(mxc).toMatch(new RegExp(`^mxc://${stack.serverName}/[A-Za-z0-9_-]{24}$`));
    // The WebSocket upgrade goes through nginx too.
    const socket = await client.listenSocket(mxc, { from: 0 });
    const parts = [MAGIC, ...Array.from({ length: 8 }, (_, i) => encodeBlock(i, randomBytes(200)))];
    async function* body() {
      for (const p of parts) {
        yield p;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const result = await client.uploadStream(mxc, body());
    expect(result.contentUri).toBe(mxc);
    const received: Uint8Array[] = [];
    for await (const ev of socket as AsyncIterable<ListenEvent>) {
      if (ev.type === 'block') received.push(ev.bytes);
      if (ev.type === 'end') break;
    }
    socket.close();
    expect(received.map((b) => Buffer.from(b).toString('hex'))).toEqual(
      parts.slice(1).map((b) => Buffer.from(b).toString('hex')),
    );
    expect(await client.index(mxc)).toMatchObject({ state: 'complete', block_count: 8 });
    const all = Buffer.from(await (await client.download(mxc)).arrayBuffer());
    expect(all.equals(Buffer.concat(parts))).toBe(true);

    // A Synapse token is not a relay token: the relay, not Synapse, answers create.
    const refused = await fetch(`${stack.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { ...bearer(alice.accessToken), 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
  });

  it('carries tus, the HLS playlist and DELETE to the relay; a cancelled media falls back to 404', async () => {
    const client = new MediaClient({ baseUrl: stack.url, accessToken: bob.relayToken });
    const geometry = {
      frame_ms: 20,
      frames_per_block: 12,
      bitrate: 32000,
      block_size: 16 + 100,
      sample_rate: 48000,
      channels: 1,
    };
    const { mxc } = await client.create(geometry);
    const blocks = Array.from({ length: 5 }, (_, i) => encodeBlock(i, randomBytes(100)));
    const first = Buffer.concat([MAGIC, ...blocks.slice(0, 3)]);
    expect(await client.tusPatch(mxc, 0, first)).toBe(first.length);
    expect((await client.tusOffset(mxc)).offset).toBe(first.length);
    const playlist = await fetch(
      `${stack.url}${HLS_PATH}/${mxc.slice('mxc://'.length)}/playlist.m3u8`,
    );
    expect(playlist.status).toBe(200);
    expect(await playlist.text()).toMatch(/^#EXTM3U/);
    const rest = Buffer.concat(blocks.slice(3));
    expect(await client.tusPatch(mxc, first.length, rest, { final: true })).toBe(
      first.length + rest.length,
    );
    expect(await client.index(mxc)).toMatchObject({ state: 'complete', block_count: 5 });

    await client.deleteMedia(mxc);
    // The relay's 404 for a cancelled media is retried on Synapse, which has no such id either.
    const gone = await fetch(
      `${stack.url}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`,
      {
        headers: bearer(bob.accessToken),
      },
    );
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('stops every process and removes its directory', async () => {
    const ports = [stack.url, stack.synapseUrl, stack.relayUrl].map((u) => Number(new URL(u).port));
    await stack.stop();
    expect(existsSync(stack.dir)).toBe(false);
    for (const port of ports) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(false)));
        s.once('error', () => resolve(true));
      });
      expect(refused, `port ${port}`).toBe(true);
    }
  });
});

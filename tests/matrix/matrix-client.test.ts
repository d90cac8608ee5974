/**
 * @mxcast/matrix against the real stack (docs/matrix.md "Broadcast events", "Key re-share",
 * "Device and crypto store"): real Synapse behind nginx, real matrix-js-sdk with its Rust crypto.
 * alice broadcasts in-process; every listener (bob's devices, carol) runs in a process of its own
 * (matrix-client-cli.ts), as `mxcast listen` will.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Url, generateEncryptedFile } from '@mxcast/format';
import {
  announceBroadcast,
  listBroadcasts,
  openMatrixSession,
  setBroadcastState,
  BROADCAST_COMPLETE_TYPE,
  resolveRoomId,
  sendBroadcastEvent,
  startKeyReshare,
  watchBroadcasts,
  type Broadcast,
  type BroadcastListing,
  type KeyReshare,
  type MatrixSession,
} from '@mxcast/matrix';
import { startMatrixStack, type MatrixStack } from './matrix-stack.ts';
import { matrixCall, registerUser, type MatrixUser } from './matrix-users.ts';
import { until } from './poll-until.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

let stack: MatrixStack;
let work: string;
const users: Record<string, MatrixUser> = {};
let alice: MatrixSession;
let roomId: string;
let broadcast: Broadcast;
let reshare: KeyReshare | undefined;
let bobDevice = '';
let first: CliOut;
const file = generateEncryptedFile('mxc://mxcast.test/AbCdEfGhIjKlMnOpQrStUvWx');
const geometry = { frame_ms: 20, frames_per_block: 12, block_size: 1031, bitrate: 32000 };

interface CliOut {
  userId: string;
  deviceId: string;
  restored: boolean;
  openMs: number;
  keyMs?: number;
  requests: Record<string, number>;
  broadcasts: BroadcastListing[];
}

/** One listener process: logs in (or reuses the device in stateDir), prints what it sees. */
async function listener(name: string, stateDir: string, extra: string[] = []): Promise<CliOut> {
  const args = ['--import', 'tsx', path.join(here, 'matrix-client-cli.ts')];
  args.push('--homeserver', stack.url, '--user', users[name]!.userId);
  args.push('--password', users[name]!.password, '--state-dir', stateDir, ...extra);
  const { stdout } = await run(process.execPath, args, { cwd: here, timeout: 120_000 });
  // stdout is the CLI's one JSON line (the sdk's logs go to stderr).
  return JSON.parse(stdout) as CliOut;
}

beforeAll(async () => {
  stack = await startMatrixStack();
  console.log(`matrix stack up: ${JSON.stringify(stack.startupMs)} ms`);
  for (const name of ['alice', 'bob', 'carol', 'eve']) {
    users[name] = await registerUser(stack, name, `${name}-password-1`);
  }
  work = mkdtempSync(path.join(tmpdir(), 'mxcast-matrix-client-'));
  alice = await openMatrixSession({
    homeserver: stack.url,
    auth: { user: 'alice', password: users.alice!.password },
    stateDir: path.join(work, 'alice'),
  });
}, 900_000);

afterAll(async () => {
  reshare?.stop();
  await alice?.stop();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('broadcasts in an encrypted Matrix room', () => {
  it('alice creates an encrypted room; bob joins and keeps a device in his state dir', async () => {
    const r = await alice.client.createRoom({
      preset: 'private_chat' as never,
      invite: [users.bob!.userId],
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    });
    roomId = r.room_id;
    await alice.client.createAlias('#radio:mxcast.test', roomId);
    expect(await resolveRoomId(alice, '#radio:mxcast.test')).toBe(roomId);
    expect(await resolveRoomId(alice, roomId)).toBe(roomId);
    await expect(resolveRoomId(alice, 'radio')).rejects.toThrow(/not a room id/);
    await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
      token: users.bob!.accessToken,
      body: {},
    });
    // bob's listener device exists before the announcement: it gets the key in the first share.
    first = await listener('bob', path.join(work, 'bob'), ['--room', roomId]);
    expect(first.restored).toBe(false);
    expect(first.broadcasts).toEqual([]);
    bobDevice = first.deviceId;
    await until('alice to see bob joined', () =>
      alice.client.getRoom(roomId)?.getMember(users.bob!.userId)?.membership === 'join'
        ? true
        : undefined,
    );
  });

  it('alice announces; bob, in his own process on his kept device, decrypts the EncryptedFile', async () => {
    await until('alice to see the room', () => alice.client.getRoom(roomId) ?? undefined);
    // alice's sync brings bob's new device (device_lists.changed) a moment after he made it; an
    // announcement before that reaches the device only through a re-announcement (next tests).
    const crypto = alice.client.getCrypto()!;
    for (const end = Date.now() + 30_000; ;) {
      const devices = await crypto.getUserDeviceInfo([users.bob!.userId], true);
      if (devices.get(users.bob!.userId)?.has(bobDevice)) break;
      if (Date.now() > end) throw new Error("alice never saw bob's listener device");
      await new Promise((r) => setTimeout(r, 200));
    }
    broadcast = await announceBroadcast(alice, { roomId, title: 'Morning show', file, geometry });
    const out = await listener('bob', path.join(work, 'bob'), [
      ...['--room', roomId, '--wait-key', broadcast.broadcastId, '--timeout', '20000'],
    ]);
    console.log(`bob fresh device: ${JSON.stringify(first.requests)}`);
    console.log(`bob restored device: open ${out.openMs} ms, key ${out.keyMs} ms`);
    console.log(`bob restored device: ${JSON.stringify(out.requests)}`);
    expect(out.restored).toBe(true);
    expect(out.deviceId).toBe(first.deviceId);
    // Kept: no login, and no device keys to publish again (a fresh device does both).
    expect(first.requests['POST /v3/login']).toBe(1);
    expect(first.requests['POST /v3/keys/upload']).toBeGreaterThan(0);
    expect(out.requests['POST /v3/login']).toBeUndefined();
    const store = statSync(path.join(work, 'bob', 'crypto-store.v8'));
    console.log(`bob's kept crypto store: ${store.size} bytes`);
    expect(statSync(path.join(work, 'bob')).mode & 0o777).toBe(0o700);
    expect(store.mode & 0o777).toBe(0o600);
    const [b] = out.broadcasts;
    expect(out.broadcasts).toHaveLength(1);
    expect(b).toMatchObject({
      broadcastId: broadcast.broadcastId,
      broadcaster: users.alice!.userId,
      deviceId: alice.deviceId,
      state: 'started',
      live: true,
      title: 'Morning show',
      announcementEventId: broadcast.announcementEventId,
    });
    expect(b!.announcement!.file).toEqual(file);
    expect(b!.announcement!.geometry).toEqual(geometry);
    // The device came back: still one listener device for bob besides his registration one.
    const devices = await matrixCall<{ devices: unknown[] }>(
      stack.url,
      'GET',
      '/_matrix/client/v3/devices',
      {
        token: users.bob!.accessToken,
      },
    );
    expect(devices.devices).toHaveLength(2);
  });

  it('carol, joining after the announcement, gets the key from a re-announcement', async () => {
    reshare = startKeyReshare(alice, broadcast);
    await alice.client.invite(roomId, users.carol!.userId);
    await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
      token: users.carol!.accessToken,
      body: {},
    });
    const out = await listener('carol', path.join(work, 'carol'), [
      ...['--room', roomId, '--wait-key', broadcast.broadcastId, '--timeout', '60000'],
    ]);
    console.log(
      `carol new device: open ${out.openMs} ms, key ${out.keyMs} ms, re-announcements ${reshare.count}`,
    );
    expect(out.restored).toBe(false);
    expect(out.broadcasts[0]?.announcement?.file).toEqual(file);
    expect(reshare.count).toBeGreaterThan(0);
  });

  it('a new device of a member, started mid-broadcast, gets the key too', async () => {
    const before = reshare!.count;
    const out = await listener('bob', path.join(work, 'bob-second'), [
      ...['--room', roomId, '--wait-key', broadcast.broadcastId, '--timeout', '60000'],
    ]);
    console.log(`bob new device: open ${out.openMs} ms, key ${out.keyMs} ms`);
    expect(out.restored).toBe(false);
    expect(out.broadcasts[0]?.announcement?.file).toEqual(file);
    expect(reshare!.count).toBeGreaterThan(before);
  });

  it('pause, resume, stop show in the listing with a duration', async () => {
    const seen: string[] = [];
    let last: BroadcastListing | undefined;
    const watch = watchBroadcasts(alice, roomId, (b) => {
      seen.push(b.state);
      last = b;
    });
    try {
      for (const s of ['paused', 'resumed', 'stopped'] as const) {
        await setBroadcastState(alice, broadcast, s);
      }
      await expect(setBroadcastState(alice, broadcast, 'resumed')).rejects.toThrow(
        /already stopped/,
      );
      await until('the stopped state in alice sync', () =>
        last?.live === false ? true : undefined,
      );
    } finally {
      watch.stop();
    }
    // Each state event, in order, as the sync brought it.
    expect(seen).toEqual(['paused', 'resumed', 'stopped']);
    expect(last!.title).toBe('Morning show');
    const listed = await listBroadcasts(alice, roomId);
    expect(listed[0]).toMatchObject({ state: 'stopped', live: false, title: 'Morning show' });
    expect(listed[0]!.durationMs).toBe(broadcast.state.stopped_ts! - broadcast.state.started_ts);
    const out = await listener('carol', path.join(work, 'carol'), ['--room', roomId]);
    expect(out.restored).toBe(true);
    expect(out.broadcasts[0]).toMatchObject({
      state: 'stopped',
      live: false,
      title: 'Morning show',
    });
  });

  it('eve, on the same homeserver but not in the room, reads nothing', async () => {
    const token = users.eve!.accessToken;
    const room = encodeURIComponent(roomId);
    for (const p of [
      `/rooms/${room}/state`,
      `/rooms/${room}/messages?dir=b`,
      `/rooms/${room}/event/${encodeURIComponent(broadcast.announcementEventId)}`,
    ]) {
      const res = await fetch(`${stack.url}/_matrix/client/v3${p}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { errcode?: string };
      // Synapse answers an event the user may not see as if it did not exist.
      const expected = p.includes('/event/') ? [404, 'M_NOT_FOUND'] : [403, 'M_FORBIDDEN'];
      expect([res.status, body.errcode], p).toEqual(expected);
    }
    const join = await fetch(`${stack.url}/_matrix/client/v3/join/${room}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(join.status).toBe(403);
    await join.arrayBuffer();
    // Through the library too, logged in with eve's token (her registration device): the room
    // is not in her sync, and asking for it says so.
    const session = await openMatrixSession({
      homeserver: stack.url,
      auth: { accessToken: token },
    });
    try {
      expect(session.deviceId).toBe(users.eve!.deviceId);
      expect(session.client.getRoom(roomId)).toBeNull();
      await expect(listBroadcasts(session, roomId)).rejects.toThrow(/not in room/);
    } finally {
      await session.stop();
    }
  });

  it('the key is in no state event and nowhere in Synapse database', async () => {
    const keyBytes = Buffer.from(decodeBase64Url(file.key.k));
    const needles = [file.key.k, keyBytes.toString('base64').replace(/=+$/, ''), file.iv];
    const state = JSON.stringify(
      await matrixCall<unknown[]>(
        stack.url,
        'GET',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
        {
          token: users.bob!.accessToken,
        },
      ),
    );
    expect(state).toContain(broadcast.announcementEventId); // the state event is there…
    for (const n of needles) expect(state).not.toContain(n); // …without the key
    // The announcement as the server stores it: m.room.encrypted.
    const raw = await matrixCall<{ type: string; content: Record<string, unknown> }>(
      stack.url,
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(broadcast.announcementEventId)}`,
      { token: users.bob!.accessToken },
    );
    expect(raw.type).toBe('m.room.encrypted');
    // A related event (completion, here) is encrypted too; only its reference stays in clear.
    const completeId = await sendBroadcastEvent(alice, broadcast, BROADCAST_COMPLETE_TYPE, {
      note: 'the end',
    });
    const rel = await matrixCall<{
      chunk: { event_id: string; type: string; content: Record<string, unknown> }[];
    }>(
      stack.url,
      'GET',
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/relations/${encodeURIComponent(broadcast.announcementEventId)}/m.reference`,
      { token: users.bob!.accessToken },
    );
    const complete = rel.chunk.find((e) => e.event_id === completeId);
    expect(complete?.type).toBe('m.room.encrypted');
    expect(complete?.content['m.relates_to']).toEqual({
      rel_type: 'm.reference',
      event_id: broadcast.announcementEventId,
    });
    expect(JSON.stringify(complete)).not.toContain('the end');
    // The re-announcements are among the relations, encrypted as well.
    expect(rel.chunk.length).toBeGreaterThan(reshare!.count);
    for (const e of rel.chunk) expect(e.type).toBe('m.room.encrypted');
    const dbFiles = ['homeserver.db', 'homeserver.db-wal']
      .map((f) => path.join(stack.dir, f))
      .filter((f) => existsSync(f));
    expect(dbFiles.length).toBeGreaterThan(0);
    for (const f of dbFiles) {
      const bytes = readFileSync(f);
      for (const n of needles) expect(bytes.includes(Buffer.from(n)), `${n} in ${f}`).toBe(false);
      expect(bytes.includes(keyBytes), `raw key in ${f}`).toBe(false);
    }
    // The database does hold the room's events: the search above looked at the right file.
    const all = Buffer.concat(dbFiles.map((f) => readFileSync(f)));
    expect(all.includes(Buffer.from(broadcast.announcementEventId))).toBe(true);
  });
});

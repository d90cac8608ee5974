/**
 * What the sender vouches for, against the real stack (docs/matrix.md "Checkpoints and
 * completion"): real Synapse behind nginx, a real relay, the real capture pipeline (in this
 * process, as alice) with its Matrix reporter, and every listener in a process of its own
 * (matrix-broadcast-cli.ts). A relay that cuts the tail is told from a finished broadcast by the
 * completion event; a relay that serves blocks encrypted with the right key but not the ones the
 * sender wrote (a relay colluding with a member: the key is shared) is TAMPERED; a cancel is a
 * cancel. The key is in neither Synapse's database nor the relay's data.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureSession, createOpusEncoder, openCaptureSource } from '@mxcast/capture';
import {
  BLOCK_HEADER_SIZE,
  createBlockCipher,
  decodeBase64Url,
  encodeBlock,
  type EncryptedFile,
} from '@mxcast/format';
import {
  BROADCAST_STATE_TYPE,
  type LiveBroadcastReporter,
  openMatrixSession,
  roomCapture,
  type MatrixSession,
} from '@mxcast/matrix';
import { runMxcast } from '../capture/capture-harness.ts';
import { splitBlocks, startTamperingProxy, type Blocks } from '../player/tampering-proxy.ts';
import { startCuttableLink } from './matrix-broadcast-cutter.ts';
import { forgePage, startLiveForger } from './matrix-live-forger.ts';
import { startMatrixStack, type MatrixStack } from './matrix-stack.ts';
import { matrixCall, registerUser, type MatrixUser } from './matrix-users.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

let stack: MatrixStack;
let work: string;
const users: Record<string, MatrixUser> = {};
let alice: MatrixSession;
let roomId: string;

interface ListenOut {
  outcome: string;
  error?: string;
  blocks?: number;
  verified?: number;
  unverifiable?: number;
  relayState?: string;
  fileHashOk?: boolean;
  claims?: { checkpoints: number; completion: number | null; cancel: number | null };
  listed?: { id: string; state: string; title: string | null }[];
}

/** One listener process: logs in (device kept in its state dir), checks one broadcast. */
async function listen(name: string, relay: string, broadcastId?: string): Promise<ListenOut> {
  const args = ['--import', 'tsx', path.join(here, 'matrix-broadcast-cli.ts')];
  args.push('--homeserver', stack.url, '--user', users[name]!.userId);
  args.push('--password', users[name]!.password, '--state-dir', path.join(work, name));
  args.push('--room', roomId, '--relay', relay);
  // `=`: a base64url id may start with '-', which parseArgs takes for an option.
  if (broadcastId) args.push(`--broadcast=${broadcastId}`);
  const { stdout } = await run(process.execPath, args, { cwd: here, timeout: 120_000 });
  return JSON.parse(stdout) as ListenOut;
}

/**
 * bob's real `mxcast listen` process (the bundle), on the device his other listens use, writing
 * a WAV (unpaced: it reads as fast as the relay serves). Resolves with its exit and the seconds
 * of audio it wrote before it stopped.
 */
async function mxListen(relay: string, broadcastId: string, extra: string[] = []) {
  const pw = path.join(work, 'bob.password');
  if (!existsSync(pw)) writeFileSync(pw, `${users.bob!.password}\n`, { mode: 0o600 });
  const wav = path.join(work, `bob-${Date.now()}.wav`);
  const out = await runMxcast([
    'listen',
    '--homeserver',
    stack.url,
    '--room',
    roomId,
    '--user',
    users.bob!.userId,
    '--password-file',
    pw,
    '--state-dir',
    path.join(work, 'bob'),
    '--relay',
    relay,
    `--broadcast=${broadcastId}`,
    '--out',
    wav,
    '--quiet',
    ...extra,
  ]).done;
  // 16-bit mono at 48 kHz after a 44-byte header (the voice preset is mono).
  const seconds = existsSync(wav) ? (statSync(wav).size - 44) / 2 / 48_000 : 0;
  return { ...out, seconds };
}

interface Live {
  reporter: Promise<LiveBroadcastReporter>;
  file: Promise<EncryptedFile>;
  session: CaptureSession;
  done: Promise<unknown>;
  blocks: () => number;
}

/** alice goes live: a 440 Hz tone paced to the clock, a checkpoint every second. */
async function goLive(title: string, seconds: number, relay = stack.relayUrl): Promise<Live> {
  const source = await openCaptureSource('sine:440', { channels: 1 });
  const room = roomCapture(alice, { roomId, checkpointEverySeconds: 1 });
  let resolveReporter!: (r: LiveBroadcastReporter) => void;
  let resolveFile!: (f: EncryptedFile) => void;
  const reporter = new Promise<LiveBroadcastReporter>((r) => (resolveReporter = r));
  const file = new Promise<EncryptedFile>((r) => (resolveFile = r));
  const session = new CaptureSession({
    relay,
    token: users.alice!.relayToken,
    preset: 'voice',
    source,
    createEncoder: createOpusEncoder,
    title,
    realtime: true,
    duration: seconds,
    // The capture's Matrix side, as `mxcast capture --homeserver --room` wires it.
    onCreated: async (s) => {
      await room.onCreated(s);
      resolveReporter(room.reporter!);
      resolveFile(s.file);
    },
    onWrite: (seq, bytes) => room.onWrite(seq, bytes),
    onConnection: (state) => room.onConnection(state),
  });
  const done = session.run();
  done.catch(() => {});
  return { reporter, file, session, done, blocks: () => room.blocks };
}

beforeAll(async () => {
  stack = await startMatrixStack();
  for (const name of ['alice', 'bob', 'carol', 'eve']) {
    users[name] = await registerUser(stack, name, `${name}-password-1`);
  }
  work = mkdtempSync(path.join(tmpdir(), 'mxcast-matrix-broadcast-'));
  alice = await openMatrixSession({
    homeserver: stack.url,
    auth: { user: 'alice', password: users.alice!.password },
    stateDir: path.join(work, 'alice'),
  });
  const r = await alice.client.createRoom({
    preset: 'private_chat' as never,
    invite: [users.bob!.userId, users.carol!.userId],
    initial_state: [
      { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
    ],
  });
  roomId = r.room_id;
  await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
    token: users.bob!.accessToken,
    body: {},
  });
}, 900_000);

afterAll(async () => {
  await alice?.stop();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a broadcast in a Matrix room, verified against the sender', () => {
  let finishedId = '';
  let finishedFile: EncryptedFile;
  let finishedBlocks = 0;

  it('alice broadcasts with checkpoints; bob, and carol who joined mid-broadcast, verify it all', async () => {
    // bob's listener device exists before the broadcast: the first key share reaches it.
    expect((await listen('bob', stack.relayUrl)).outcome).toBe('NONE');
    const live = await goLive('Morning show', 8);
    const reporter = await live.reporter;
    // carol joins while alice is live and starts listening: her new device gets the key from a
    // re-announcement, and her download follows the live stream to its end.
    await new Promise((r) => setTimeout(r, 1500));
    await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
      token: users.carol!.accessToken,
      body: {},
    });
    const carolLive = listen('carol', stack.relayUrl, reporter.broadcast.broadcastId);
    await live.done;
    const completion = await reporter.complete();
    finishedId = reporter.broadcast.broadcastId;
    finishedFile = await live.file;
    finishedBlocks = live.blocks();
    expect(completion.blockCount).toBe(finishedBlocks);
    expect(completion.fileSha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(reporter.checkpoints).toBeGreaterThanOrEqual(3);

    const [bob, carol] = await Promise.all([listen('bob', stack.relayUrl, finishedId), carolLive]);
    for (const out of [bob, carol]) {
      expect(out, JSON.stringify(out)).toMatchObject({
        outcome: 'finished',
        relayState: 'complete',
      });
      expect(out.blocks).toBe(finishedBlocks);
      expect(out.unverifiable).toBe(0);
      // Every claim it could decrypt was checked: its checkpoints, and the completion's interval
      // (counted once when it repeats the last checkpoint).
      expect(out.verified, JSON.stringify(out)).toBeGreaterThanOrEqual(out.claims!.checkpoints);
      expect(out.claims!.completion).toBe(finishedBlocks);
      // The relay stores exactly the bytes alice wrote: the completion's whole-file sha256 holds.
      expect(out.fileHashOk).toBe(true);
    }
    // bob's device had the Megolm session from the start: every checkpoint.
    expect(bob.claims!.checkpoints).toBe(reporter.checkpoints);
    expect(bob.listed).toContainEqual({ id: finishedId, state: 'stopped', title: 'Morning show' });
    // carol's device got the session at her join: Megolm ratchets forward only, so the
    // checkpoints sent before it stay unreadable to her; those after it, and the completion, not.
    expect(carol.claims!.checkpoints).toBeGreaterThanOrEqual(1);
    console.log(
      `checkpoints sent ${reporter.checkpoints}; bob read ${bob.claims!.checkpoints}, ` +
        `carol ${carol.claims!.checkpoints}; blocks ${finishedBlocks}`,
    );
  }, 180_000);

  it('eve, not a member, gets neither the listing nor the key', async () => {
    const eve = await listen('eve', stack.relayUrl, finishedId);
    expect(eve.outcome).toBe('ERROR');
    expect(eve.blocks).toBeUndefined();
  }, 120_000);

  it('a relay that cuts the tail and calls the stream complete is reported as cut', async () => {
    const proxy = await startTamperingProxy(stack.relayUrl, (blocks: Blocks) =>
      blocks.slice(0, -3),
    );
    try {
      const bob = await listen('bob', proxy.url, finishedId);
      expect(bob, JSON.stringify(bob)).toMatchObject({ outcome: 'cut', relayState: 'complete' });
      expect(bob.blocks).toBe(finishedBlocks - 3);
      expect(bob.fileHashOk).toBe(false);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('blocks sealed with the right key but not the sender`s are TAMPERED at their checkpoint', async () => {
    // A relay colluding with a member (who has the key): AES-GCM passes, the checkpoint does not.
    const cipher = await createBlockCipher(finishedFile);
    const stored = new Uint8Array(
      await (
        await fetch(
          `${stack.relayUrl}/_matrix/client/v1/media/download/${finishedFile.url!.slice(6)}`,
        )
      ).arrayBuffer(),
    );
    const original = splitBlocks(stored).blocks[10]!;
    // The Ogg page stays valid (its CRC made right): only the sender's checkpoint tells.
    const plain = forgePage(await cipher.decrypt(10, original.subarray(BLOCK_HEADER_SIZE)));
    const forgedBlock = encodeBlock(10, await cipher.encrypt(10, plain));
    const forged = (blocks: Blocks) => blocks.map((b, seq) => (seq === 10 ? forgedBlock : b));
    const proxy = await startTamperingProxy(stack.relayUrl, forged);
    try {
      const bob = await listen('bob', proxy.url, finishedId);
      expect(bob, JSON.stringify(bob)).toMatchObject({ outcome: 'TAMPERED' });
      expect(bob.error).toMatch(/do not hash to the sender's checkpoint/);
      // The real `mxcast listen --from 0` stops while playing, at the checkpoint that covers
      // block 10 (a checkpoint a second, ~0.2 s a block: by ~4 s), not at the end of the 8 s.
      const cli = await mxListen(proxy.url, finishedId, ['--from', '0']);
      expect(cli.code, cli.stderr).toBe(4);
      expect(cli.stderr).toMatch(/TAMPERED: .*do not hash to the sender's checkpoint/);
      expect(cli.stderr).toMatch(/broadcast: TAMPERED/);
      expect(cli.seconds, cli.stderr).toBeGreaterThan(1);
      expect(cli.seconds, cli.stderr).toBeLessThan(5);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('a block forged while live is TAMPERED during the live listen, at its checkpoint', async () => {
    const live = await goLive('Forged live show', 16);
    const reporter = await live.reporter;
    let captureOver = false;
    void live.done.finally(() => (captureOver = true));
    // The block ~2 s ahead of the live edge (~0.2 s a block) when bob's listen first downloads:
    // it joins at the edge, before that block. Picked then, not now: bob's start-up (a login, a
    // sync) took over 5 s on a busy machine, and a block picked now was already behind him.
    const forger = await startLiveForger(stack.relayUrl, await live.file, () => live.blocks() + 10);
    try {
      const cli = await mxListen(forger.url, reporter.broadcast.broadcastId);
      const stoppedWhileLive = !captureOver;
      const at = `capture blocks ${live.blocks()}, forged ${forger.forgedSeq()}`;
      expect(cli.code, `${at}\n${cli.stderr}`).toBe(4);
      expect(cli.stderr).toMatch(/TAMPERED: .*do not hash to the sender's checkpoint/);
      expect(forger.forgedBytesSent()).toBeGreaterThan(0);
      // Caught at the checkpoint after the forged block (a second later), while alice is still
      // live: not at the end of the broadcast.
      expect(stoppedWhileLive, at).toBe(true);
    } finally {
      await forger.close();
      await live.done;
      await reporter.complete();
    }
  }, 120_000);

  it('a broadcast alice cancels is reported as cancelled', async () => {
    const live = await goLive('Cancelled show', 30);
    const reporter = await live.reporter;
    await new Promise((r) => setTimeout(r, 2500));
    await live.session.cancel();
    await expect(live.done).rejects.toThrow();
    await reporter.cancel(live.blocks());
    const bob = await listen('bob', stack.relayUrl, reporter.broadcast.broadcastId);
    expect(bob, JSON.stringify(bob)).toMatchObject({ outcome: 'cancelled' });
    expect(bob.claims?.cancel).toBe(live.blocks());
  }, 120_000);

  it('the relay out of reach mid-broadcast: paused, resumed, and still finished', async () => {
    const link = await startCuttableLink(stack.relayUrl);
    try {
      const live = await goLive('Shaky show', 6, link.url);
      const reporter = await live.reporter;
      await new Promise((r) => setTimeout(r, 2000));
      await link.cut(2000);
      await live.done;
      await reporter.complete();
      const id = reporter.broadcast.broadcastId;
      const statesOf = () =>
        alice.client
          .getRoom(roomId)!
          .getLiveTimeline()
          .getEvents()
          .filter((e) => e.getType() === BROADCAST_STATE_TYPE && e.getStateKey() === id)
          .map((e) => (e.getContent() as { state: string }).state);
      // The sync brings alice's own state events back; the last one may still be on its way.
      for (let i = 0; i < 50 && statesOf().at(-1) !== 'stopped'; i++) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const states = statesOf();
      expect(states).toEqual(['started', 'paused', 'resumed', 'stopped']);
      const bob = await listen('bob', stack.relayUrl, id);
      expect(bob, JSON.stringify(bob)).toMatchObject({ outcome: 'finished', unverifiable: 0 });
      expect(bob.blocks).toBe(live.blocks());
    } finally {
      await link.close();
    }
  }, 120_000);

  it('the key is in neither Synapse`s database nor the relay`s data', () => {
    const key = decodeBase64Url(finishedFile.key.k);
    const needles = [
      Buffer.from(finishedFile.key.k),
      Buffer.from(Buffer.from(key).toString('base64').replace(/=+$/, '')),
      Buffer.from(key),
    ];
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        const st = statSync(p, { throwIfNoEntry: false });
        if (st?.isDirectory()) walk(p);
        else if (st?.isFile()) files.push(p);
      }
    };
    // The stack's directory: Synapse's SQLite (and WAL), its media store, every process's log,
    // the relay's data.
    walk(stack.dir);
    const all = files.map((f) => readFileSync(f));
    // The search looked at the right files: the room's events are there.
    expect(all.some((b) => b.includes(Buffer.from(roomId)))).toBe(true);
    expect(files.length).toBeGreaterThan(2);
    files.forEach((f, i) => {
      for (const n of needles) expect(all[i]!.includes(n), `${f} holds the key`).toBe(false);
    });
  });
});

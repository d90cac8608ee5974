/**
 * Resume from any device (docs/matrix.md "Resume from any device"), real processes on the real
 * stack: alice's `mxcast capture --homeserver --room --recovery-passphrase-file` (secret storage
 * bootstrapped from the passphrase on first use) with a scheduled rekey is `kill -9`ed; a
 * wrong passphrase on "another machine" (a fresh --state-dir, a new device) is a clear error and
 * leaves the account data byte-identical; the right one resumes the same broadcast at the
 * relay's next block with the stored epochs, bob's listen hears it go on, and the whole stream
 * decrypts under the stored key schedule to an Ogg Opus file opusinfo accepts, with one EOS.
 * The keys are in no state event, not in Synapse's database, not in any log.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { MediaClient } from '@mxcast/client';
import { BlockFramer, createScheduleCipher, KeySchedule, type Epoch } from '@mxcast/format';
import { runMxcast } from '../capture/capture-harness.ts';
import { silentWindows, startCliRoom, type CliRoom } from './matrix-cli-kit.ts';
import { matrixCall } from './matrix-users.ts';

let room: CliRoom;
const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

/** `mxcast capture` as alice, her device kept in `device` (a state dir per "machine"). */
function capture(device: string, passphraseFile: string, rest: string[]) {
  const args = room.args('capture', 'alice', rest);
  args[args.indexOf('--state-dir') + 1] = path.join(room.work, device);
  return runMxcast([...args, '--recovery-passphrase-file', path.join(room.work, passphraseFile)]);
}

/** The secret's account data as the homeserver holds it (what a client GETs). */
async function accountData(type: string): Promise<string> {
  const u = encodeURIComponent(room.users.alice.userId);
  const r = await matrixCall<unknown>(
    room.stack.url,
    'GET',
    `/_matrix/client/v3/user/${u}/account_data/${encodeURIComponent(type)}`,
    { token: room.users.alice.accessToken },
  );
  return JSON.stringify(r);
}

/** The Megolm session ids alice's events in the room went out in, and those in her key backup. */
async function sessionsSentAndBacked(): Promise<{ sent: Set<string>; backed: Set<string> }> {
  const token = room.users.alice.accessToken;
  const r = encodeURIComponent(room.roomId);
  const msgs = await matrixCall<{
    chunk: { type: string; sender: string; content: { session_id?: string } }[];
  }>(room.stack.url, 'GET', `/_matrix/client/v3/rooms/${r}/messages?dir=b&limit=500`, { token });
  const sent = new Set(
    msgs.chunk
      .filter((e) => e.type === 'm.room.encrypted' && e.sender === room.users.alice.userId)
      .map((e) => e.content.session_id ?? ''),
  );
  const { version } = await matrixCall<{ version: string }>(
    room.stack.url,
    'GET',
    '/_matrix/client/v3/room_keys/version',
    { token },
  );
  const keys = await matrixCall<{ sessions?: Record<string, unknown> }>(
    room.stack.url,
    'GET',
    `/_matrix/client/v3/room_keys/keys/${r}?version=${encodeURIComponent(version)}`,
    { token },
  ).catch(() => ({ sessions: {} }));
  return { sent, backed: new Set(Object.keys(keys.sessions ?? {})) };
}

/** A new device of alice (matrix-resume-device.ts), in its own process. */
async function newDevice(name: string, restore: boolean) {
  const args = ['--import', 'tsx', path.join(here, 'matrix-resume-device.ts')];
  args.push('--homeserver', room.stack.url, '--user', room.users.alice.userId);
  args.push('--password-file', path.join(room.work, 'alice.password'));
  args.push('--recovery-file', path.join(room.work, 'recovery'));
  args.push('--state-dir', path.join(room.work, name), '--room', room.roomId);
  if (!restore) args.push('--no-restore');
  const { stdout } = await run(process.execPath, args, { cwd: here, timeout: 120_000 });
  return JSON.parse(stdout) as {
    restored?: { total: number; imported: number };
    broadcasts: { id: string; state: string; title: string | null }[];
    epochs: { broadcast: string; index: number; startSeq: number; keySha256: string }[];
    undecryptable: { broadcast: string; sessionId: string | null; reason: string }[];
  };
}

beforeAll(async () => {
  room = await startCliRoom({ relayHomeserver: true });
  writeFileSync(path.join(room.work, 'recovery'), 'correct horse battery staple\n', {
    mode: 0o600,
  });
  writeFileSync(path.join(room.work, 'recovery-wrong'), 'incorrect horse\n', { mode: 0o600 });
  // bob's device exists before the announcement (its keys are uploaded at login).
  const made = await room.mx('listen', 'bob', ['--list']).done;
  expect(made.code, made.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  await room?.stop();
});

describe('capture --resume from another device (state in secret storage)', () => {
  it('kill -9, a wrong passphrase changes nothing, the right one continues the broadcast; bob hears it go on; one valid .opus', async () => {
    const common = ['--input', 'sine:440', '--duration', '120', '--realtime'];
    const first = capture('alice-machine-a', 'recovery', [
      ...common,
      '--preset',
      'voice',
      '--title',
      'Resumed',
      '--checkpoint-every',
      '2',
      '--rekey-every',
      '3s',
    ]);
    await first.waitFor(/announced in .* as broadcast (\S+)/, 90_000);
    const broadcastId = /as broadcast (\S+)/.exec(first.stderr())?.[1];
    expect(broadcastId).toBeTruthy();
    expect(first.stderr()).toMatch(/secret storage and key backup set up/);
    const bobWav = path.join(room.work, 'bob.wav');
    const bob = room.mx('listen', 'bob', ['--from', '0', '--out', bobWav]);
    await bob.waitFor(/listen: \S+ "Resumed" by /, 60_000);
    // Past the first scheduled boundary (3 s of audio) and a state store (every 2 s): the second
    // epoch announced after bob joined, and the kill the moment the capture says it went out.
    const announced = () => first.stderr().match(/key epoch at block \d+ announced/g)?.length ?? 0;
    const target = announced() + 2;
    await first.waitFor(
      new RegExp(`(?:key epoch at block \\d+ announced[\\s\\S]*?){${target}}`),
      30_000,
    );
    first.child.kill('SIGKILL');
    // Backed up before announced (docs/matrix.md "Resume from any device"): every Megolm session
    // alice's events went out in is in the key backup already, the newest epoch's included,
    // though the process died right after sending it.
    const { sent, backed } = await sessionsSentAndBacked();
    expect([...sent].filter((id) => !backed.has(id))).toEqual([]);
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const type = `org.mxcast.capture_state.${broadcastId}`;
    const before = await accountData(type);
    expect(before).toContain('"encrypted"');

    // Another machine, the wrong passphrase: one clear line, exit 7, the account data untouched.
    const wrong = await capture('alice-machine-wrong', 'recovery-wrong', [...common, '--resume'])
      .done;
    expect(wrong.code, wrong.stderr).toBe(7);
    expect(wrong.stderr).toMatch(/wrong recovery passphrase/);
    expect(await accountData(type)).toBe(before);

    // Another machine, the right passphrase: the same broadcast goes on.
    const second = capture('alice-machine-b', 'recovery', [
      ...common,
      '--checkpoint-every',
      '2',
      '--rekey-every',
      '3s',
      '--resume',
    ]);
    await second.waitFor(/resumed broadcast (\S+)/, 90_000);
    expect(second.stderr()).toContain(`resumed broadcast ${broadcastId}`);
    expect(second.stderr()).toMatch(/resuming mxc:\/\/\S+ at block \d+/);
    // One more scheduled boundary in this run, then Ctrl-C finishes the broadcast.
    await new Promise((r) => setTimeout(r, 5000));
    second.child.kill('SIGINT');
    const [s2, b] = await Promise.all([second.done, bob.done]);
    expect(s2.code, s2.stderr).toBe(0);
    expect(s2.stderr).toMatch(/matrix: completion sent/);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/broadcast: finished/);

    // The state the resumed run kept (plain JSON in its 0700 device dir): every epoch.
    const state = JSON.parse(
      readFileSync(path.join(room.work, 'alice-machine-b', 'capture-state.json'), 'utf8'),
    ) as { mxc: string; epochs: Epoch[]; nextSeq: number };
    expect(state.epochs.length).toBeGreaterThanOrEqual(3);
    const resumedAt = Number(/at block (\d+)/.exec(s2.stderr)?.[1]);
    // Epochs on both sides of the resume point.
    expect(state.epochs.some((e) => e.startSeq > 0 && e.startSeq < resumedAt)).toBe(true);
    expect(state.epochs.some((e) => e.startSeq > resumedAt)).toBe(true);
    // The room saw the same broadcast go on: started by one device, resumed by another, stopped.
    const history = await matrixCall<{
      chunk: {
        type: string;
        state_key?: string;
        content: { state?: string; device_id?: string };
      }[];
    }>(
      room.stack.url,
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/messages?dir=f&limit=500`,
      { token: room.users.alice.accessToken },
    );
    const states = history.chunk.filter(
      (e) => e.type === 'org.mxcast.broadcast.state' && e.state_key === broadcastId,
    );
    expect(states.map((e) => e.content.state)).toEqual(['started', 'resumed', 'stopped']);
    expect(states[1]?.content.device_id).not.toBe(states[0]?.content.device_id);
    // Finished: the secret was emptied (nothing left to resume).
    expect(await accountData(type)).toBe('{}');

    // bob heard it go on: the tone before and after the resume, no silence inside the audio
    // (the outage is wall time, not stream time), and more than the first run alone sent.
    const audio = readWav(new Uint8Array(readFileSync(bobWav)));
    const heard = audio.samples.length / audio.channels / 48_000;
    const blockSeconds = 0.24;
    expect(heard).toBeGreaterThan(resumedAt * blockSeconds + 3);
    expect(heard).toBeGreaterThan((state.nextSeq - 2) * blockSeconds - 0.5);
    expect(silentWindows(audio.samples, audio.channels)).toBe(0);

    // The whole stream, decrypted block by block under the stored key schedule: one Ogg Opus
    // file, one EOS, accepted by opusinfo.
    const wire = new Uint8Array(
      await (
        await new MediaClient({
          baseUrl: room.stack.url,
          accessToken: room.users.alice.accessToken,
        }).download(state.mxc)
      ).arrayBuffer(),
    );
    const framer = new BlockFramer();
    const blocks = framer.push(wire);
    framer.finish();
    const cipher = await createScheduleCipher(new KeySchedule(state.epochs));
    const parts: Uint8Array[] = [];
    for (const blk of blocks) parts.push(await cipher.decrypt(blk.seq, blk.ciphertext));
    const ogg = Buffer.concat(parts);
    const opusFile = path.join(room.work, 'whole.opus');
    writeFileSync(opusFile, ogg);
    let eos = 0;
    for (let i = ogg.indexOf('OggS'); i >= 0; i = ogg.indexOf('OggS', i + 4)) {
      if ((ogg[i + 5]! & 0x04) !== 0) eos++;
    }
    expect(eos).toBe(1);
    const info = execFileSync('opusinfo', [opusFile], { encoding: 'utf8' });
    expect(info).not.toMatch(/WARNING|ERROR/i);
    expect(info).toMatch(/Playback length/);

    // The keys: in no state event, not in Synapse's database, not in any log.
    const needles = state.epochs.map((e) => e.key.k);
    const stateEvents = await matrixCall<unknown>(
      room.stack.url,
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/state`,
      { token: room.users.alice.accessToken },
    );
    // (stdout is the listen link, which carries epoch 0's key by design: docs/capture.md.)
    const logs = [killed.stderr, wrong.stderr, wrong.stdout, s2.stderr, b.stderr, b.stdout];
    const dbFiles = ['homeserver.db', 'homeserver.db-wal']
      .map((f) => path.join(room.stack.dir, f))
      .filter((f) => existsSync(f));
    expect(dbFiles.length).toBeGreaterThan(0);
    const db = Buffer.concat(dbFiles.map((f) => readFileSync(f)));
    // The stack's own logs (Synapse, nginx, the relay): every *.log / *.out in its directory.
    const stackLogs = readdirSync(room.stack.dir)
      .filter((f) => /\.(log|out)$/.test(f))
      .map((f) => readFileSync(path.join(room.stack.dir, f), 'utf8'));
    expect(stackLogs.length).toBeGreaterThan(0);
    logs.push(...stackLogs);
    for (const k of needles) {
      expect(JSON.stringify(stateEvents)).not.toContain(k);
      for (const log of logs) expect(log).not.toContain(k);
      expect(db.includes(Buffer.from(k)), `epoch key in Synapse's database`).toBe(false);
    }
    // Key backup: a new device of alice without the backup reads no key of the broadcast; one
    // that restores it (the backup key from secret storage, opened by the passphrase) lists it
    // by title and holds every epoch's key, those of the killed run included.
    const sha = (k: string) => createHash('sha256').update(k).digest('hex');
    const want = state.epochs.map((e) => `${e.startSeq}:${sha(e.key.k)}`).sort();
    const bare = await newDevice('alice-machine-c', false);
    expect(bare.broadcasts.find((x) => x.id === broadcastId)?.title ?? null).toBeNull();
    expect(bare.epochs.filter((e) => e.broadcast === broadcastId)).toEqual([]);
    const restored = await newDevice('alice-machine-d', true);
    expect(restored.restored?.imported).toBeGreaterThan(0);
    expect(restored.broadcasts.find((x) => x.id === broadcastId)).toEqual({
      id: broadcastId,
      state: 'stopped',
      title: 'Resumed',
    });
    const got = restored.epochs
      .filter((e) => e.broadcast === broadcastId)
      .map((e) => `${e.startSeq}:${e.keySha256}`)
      .sort();
    // (The message says which events were not decrypted, and with which Megolm session: twice in
    // CI an epoch event sent just before the kill was missing, before its session went into the
    // backup ahead of the event.)
    expect(got, JSON.stringify(restored.undecryptable)).toEqual(want);

    // The database does hold the secret's account data: the search looked at the right file.
    expect(db.includes(Buffer.from(`org.mxcast.capture_state.${broadcastId}`))).toBe(true);
  }, 240_000);
});

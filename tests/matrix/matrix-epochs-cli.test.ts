/**
 * Key epochs through the real `mxcast` processes on the real stack (docs/matrix.md "Key
 * epochs"): alice's `mxcast capture --homeserver --room` with a scheduled rekey, bob and carol's
 * `mxcast listen`, each a process of its own with a device in its state dir, the relay in
 * homeserver mode. Scaled: the "rekey every 10 s over 60 s" runs as every 3 s for as
 * long as the test runs (~15-25 s of audio: the same code path, several scheduled boundaries,
 * plus the kick's and the request's). The history policies (dave joining later) are tested in
 * matrix-epochs.test.ts.
 *
 * Checked on decoded audio: carol's WAV is the whole broadcast (within one block of what alice
 * sent), a tone with no silent 20 ms window at any boundary, every block checked against the
 * sender's checkpoints; bob, kicked mid-broadcast, is told he no longer has access (exit 8) and
 * his WAV stops short; `mxcast rekey` from another device of alice's starts an epoch.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { runMxcast } from '../capture/capture-harness.ts';
import { rms, startCliRoom, type CliRoom } from './matrix-cli-kit.ts';
import { matrixCall, registerUser, type MatrixUser } from './matrix-users.ts';

let room: CliRoom;
const extra: Record<string, MatrixUser> = {};

type Name = 'alice' | 'bob' | 'carol' | 'dave';

function user(name: Name): MatrixUser {
  return name === 'alice' || name === 'bob' ? room.users[name] : extra[name]!;
}

/** `mxcast COMMAND --homeserver … --room ROOM --user … --password-file …` as `name`. */
function mx(command: string, name: Name, args: string[], roomId = room.roomId, device = command) {
  return runMxcast([
    command,
    '--homeserver',
    room.stack.url,
    '--room',
    roomId,
    '--user',
    user(name).userId,
    '--password-file',
    path.join(room.work, `${name}.password`),
    '--state-dir',
    path.join(room.work, `${name}-${device}`),
    ...args,
  ]);
}

async function joinRoom(name: Name, roomId: string): Promise<void> {
  const r = encodeURIComponent(roomId);
  await matrixCall(room.stack.url, 'POST', `/_matrix/client/v3/rooms/${r}/invite`, {
    token: room.users.alice.accessToken,
    body: { user_id: user(name).userId },
  });
  await matrixCall(room.stack.url, 'POST', `/_matrix/client/v3/join/${r}`, {
    token: user(name).accessToken,
    body: {},
  });
}

/** Windows of 20 ms with a tone's level: the shortest gap a lost block (240 ms) would leave. */
function silentWindows(samples: Float32Array, channels: number): number {
  const win = 960 * channels;
  let silent = 0;
  // The encoder's first frames ramp up: skip the first 100 ms.
  for (let i = 4800 * channels; i + win <= samples.length; i += win) {
    if (rms(samples.subarray(i, i + win)) < 0.05) silent++;
  }
  return silent;
}

beforeAll(async () => {
  room = await startCliRoom({ relayHomeserver: true });
  for (const name of ['carol', 'dave'] as const) {
    extra[name] = await registerUser(room.stack, name, `${name}-password-1`);
    writeFileSync(path.join(room.work, `${name}.password`), `${name}-password-1\n`, {
      mode: 0o600,
    });
  }
  await joinRoom('carol', room.roomId);
  // Every listener's device exists before the announcement (its keys are uploaded at login).
  const made = await Promise.all([
    ...(['bob', 'carol'] as const).map((n) => mx('listen', n, ['--list']).done),
    // alice's second device, for `mxcast rekey` (kept: no login while the broadcast runs).
    mx('listen', 'alice', ['--list'], room.roomId, 'rekey').done,
  ]);
  for (const m of made) expect(m.code, m.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  await room?.stop();
});

describe('key epochs with mxcast capture/listen in a room', () => {
  it('rekey every 3 s, bob kicked mid-broadcast, mxcast rekey: carol hears every boundary, bob loses access', async () => {
    // Runs until stopped with Ctrl-C below, so the listeners' and the rekey device's start-up
    // on a loaded machine (each `mxcast` a process with its own Matrix sync) never outlasts it.
    const maxSeconds = 120;
    const alice = mx('capture', 'alice', [
      '--input',
      'sine:440',
      '--duration',
      String(maxSeconds),
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Epochs',
      '--checkpoint-every',
      '2',
      '--rekey-every',
      '3s',
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    const carolWav = path.join(room.work, 'carol.wav');
    const bobWav = path.join(room.work, 'bob.wav');
    const carol = mx('listen', 'carol', ['--from', '0', '--out', carolWav]);
    const bob = mx('listen', 'bob', ['--from', '0', '--out', bobWav]);
    // Both are playing (the broadcast chosen, its keys read) before bob is kicked, 3 s on.
    await Promise.all([carol, bob].map((p) => p.waitFor(/listen: \S+ "Epochs" by /, 60_000)));
    await new Promise((r) => setTimeout(r, 3000));
    await matrixCall(
      room.stack.url,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/kick`,
      { token: room.users.alice.accessToken, body: { user_id: room.users.bob.userId } },
    );
    // A rekey request from another device of alice's (its own state dir): answered.
    const rekeying = mx('rekey', 'alice', [], room.roomId, 'rekey').done;
    await alice.waitFor(/new key epoch: .* left/, 20_000);
    const rekey = await rekeying;
    expect(rekey.code, rekey.stderr).toBe(0);
    expect(rekey.stdout).toMatch(/rekey requested for /);
    await alice.waitFor(/new key epoch: rekey requested/, 20_000);
    // One more scheduled boundary at least, then Ctrl-C: the capture finishes the broadcast.
    await new Promise((r) => setTimeout(r, 4000));
    alice.child.kill('SIGINT');

    const [a, c, b] = await Promise.all([alice.done, carol.done, bob.done]);
    expect(a.code, a.stderr).toBe(0);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/broadcast: finished\n/);
    expect(c.stderr).toMatch(
      /checked against the sender: \d+ blocks, [1-9]\d* checkpoints verified/,
    );
    // What alice sent: "finished: MM:SS.s of audio in N blocks".
    const sent = /finished: (\d+):(\d+\.\d) of audio/.exec(a.stderr);
    expect(sent, a.stderr).not.toBeNull();
    const seconds = Number(sent![1]) * 60 + Number(sent![2]);
    expect(seconds).toBeGreaterThan(8);
    const audio = readWav(new Uint8Array(readFileSync(carolWav)));
    const heard = audio.samples.length / audio.channels / 48_000;
    // The whole broadcast: one block (240 ms) of slack either way, no gap at any boundary.
    expect(heard).toBeGreaterThan(seconds - 0.3);
    expect(heard).toBeLessThan(seconds + 0.3);
    expect(silentWindows(audio.samples, audio.channels)).toBe(0);
    // Every boundary was crossed: the epochs carol held at the start and those that came after
    // (one every 3 s of audio, the kick's, the request's; the first ones may precede her start;
    // the last scheduled one may fall after the end).
    const held = Number(/listen: (\d+) key epoch\(s\) held/.exec(c.stderr)?.[1] ?? NaN);
    const came = c.stderr.match(/listen: key epoch from block \d+/g)?.length ?? 0;
    expect(held + came - 1).toBeGreaterThanOrEqual(Math.floor(seconds / 3) + 2 - 1);

    // bob: told plainly, exit 8, and he heard the start but not the end.
    expect(b.code, b.stderr).toBe(8);
    expect(b.stderr).toMatch(/you no longer have access to this broadcast/);
    expect(b.stderr).toMatch(/no access: you left or were removed from the room/);
    const bobAudio = readWav(new Uint8Array(readFileSync(bobWav)));
    const bobHeard = bobAudio.samples.length / bobAudio.channels / 48_000;
    expect(bobHeard).toBeGreaterThan(1);
    expect(bobHeard).toBeLessThan(seconds - 2);
    expect(rms(bobAudio.samples)).toBeGreaterThan(0.05);
  }, 180_000);

  /** alice live in `roomId` until dave has joined and his join was seen; the finished capture. */
  async function broadcastWithJoin(roomId: string, history: 'shared' | 'joined') {
    const alice = mx(
      'capture',
      'alice',
      [
        '--input',
        'sine:440',
        '--duration',
        '120',
        '--realtime',
        '--preset',
        'voice',
        '--title',
        `History ${history}`,
        '--checkpoint-every',
        '2',
        '--history',
        history,
      ],
      roomId,
    );
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    await alice.waitFor(new RegExp(`history policy: ${history}`), 10_000);
    // Some seconds of audio before dave joins: the past he may or may not read.
    await new Promise((r) => setTimeout(r, 4000));
    await joinRoom('dave', roomId);
    if (history === 'joined') await alice.waitFor(/new key epoch: .*dave.* joined/, 20_000);
    // The join's epoch starts 1.5 s ahead; some seconds of it, then the finish.
    await new Promise((r) => setTimeout(r, 4000));
    alice.child.kill('SIGINT');
    const a = await alice.done;
    expect(a.code, a.stderr).toBe(0);
    const sent = /finished: (\d+):(\d+\.\d) of audio/.exec(a.stderr);
    return Number(sent![1]) * 60 + Number(sent![2]);
  }

  function wavSeconds(file: string): { seconds: number; level: number } {
    const audio = readWav(new Uint8Array(readFileSync(file)));
    return {
      seconds: audio.samples.length / audio.channels / 48_000,
      level: rms(audio.samples),
    };
  }

  it('joined history: dave, joining mid-broadcast, cannot decrypt what came before; shared: he seeks back to the start', async () => {
    // dave's device exists before he joins (its keys are uploaded at login; not yet a member).
    const made = await mx('listen', 'dave', ['--list']).done;
    expect(made.code).toBe(5);
    expect(made.stderr).toMatch(/not a member/);

    const r = await matrixCall<{ room_id: string }>(
      room.stack.url,
      'POST',
      '/_matrix/client/v3/createRoom',
      {
        token: room.users.alice.accessToken,
        body: {
          preset: 'private_chat',
          initial_state: [
            {
              type: 'm.room.encryption',
              state_key: '',
              content: { algorithm: 'm.megolm.v1.aes-sha2' },
            },
            {
              type: 'm.room.history_visibility',
              state_key: '',
              content: { history_visibility: 'joined' },
            },
          ],
        },
      },
    );
    const joinedSeconds = await broadcastWithJoin(r.room_id, 'joined');
    const fromStart = path.join(room.work, 'dave-joined-0.wav');
    const past = await mx('listen', 'dave', ['--from', '0', '--out', fromStart], r.room_id).done;
    // The first block opens under no key dave holds: refused, and nothing of the past decoded.
    expect(past.code, past.stderr).toBe(4);
    // (No WAV at all: the sink writes its file with the first decoded audio.)
    expect(existsSync(fromStart) ? wavSeconds(fromStart).seconds : 0).toBeLessThan(0.5);
    // Not tested: hearing the joined-policy broadcast from the join on. The Ogg header pages
    // (OpusHead, OpusTags) are in block 0, under epoch 0, which dave does not hold, so the
    // player cannot start (docs/matrix.md "Key epochs", Limits).
    expect(joinedSeconds).toBeGreaterThan(5);

    // shared (the first room: private_chat's default history visibility): dave joins mid-way
    // and, from the start, hears all of it.
    const sharedSeconds = await broadcastWithJoin(room.roomId, 'shared');
    const all = path.join(room.work, 'dave-shared.wav');
    const heard = await mx('listen', 'dave', ['--from', '0', '--out', all]).done;
    expect(heard.code, heard.stderr).toBe(0);
    const whole = wavSeconds(all);
    expect(whole.seconds).toBeGreaterThan(sharedSeconds - 0.3);
    expect(whole.seconds).toBeLessThan(sharedSeconds + 0.3);
    expect(whole.level).toBeGreaterThan(0.05);
  }, 240_000);
});

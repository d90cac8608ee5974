/**
 * Key requests on the real stack, every side its own `mxcast` process (docs/matrix.md "Key
 * re-share"): bob logs in with a NEW device (a fresh state dir) while alice's capture device is
 * offline; alice's capture then starts from her stored crypto store, whose copy of bob's device
 * list predates that device (the initial sync carries no device-list changes), so the
 * announcement's and the epochs' Megolm sessions never reach bob's new device. Without a key
 * request bob's listen would wait for a key that never comes; with it, his device asks, the
 * capture refreshes the device lists and re-announces, and bob hears the tone. eve, not a member,
 * cannot even put a request in the room (Synapse: 403), and the capture answers nobody but
 * members.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { rms, startCliRoom, type CliRoom } from './matrix-cli-kit.ts';
import type { MatrixUser } from './matrix-users.ts';

let room: CliRoom;
let eve: MatrixUser;

/** `mxcast COMMAND … --state-dir WORK/NAME-DEVICE` as alice or bob. */
function mx(command: string, name: 'alice' | 'bob', device: string, args: string[]) {
  return room.mx(command, name, args, undefined, { device });
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The epochs bob's kept device `device` holds for the room's newest broadcast (its own process). */
async function heldEpochs(device: string) {
  const args = ['--import', 'tsx', path.join(here, 'matrix-epochs-cli.ts')];
  args.push('--homeserver', room.stack.url, '--user', room.users.bob.userId);
  args.push('--password', 'bob-password-1', '--state-dir', path.join(room.work, `bob-${device}`));
  args.push('--room', room.roomId);
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd: here,
    timeout: 120_000,
  });
  return (JSON.parse(stdout) as { epochs: { index: number; startSeq: number; endSeq?: number }[] })
    .epochs;
}

beforeAll(async () => {
  room = await startCliRoom({ relayHomeserver: true });
  eve = await room.addUser('eve');
  // alice's capture device exists first and learns bob's device list (then without the new
  // device); it is offline while bob makes his new device.
  // A first short broadcast: encrypting it made alice's crypto track bob's devices.
  const made = await mx('capture', 'alice', 'capture', [
    '--input',
    'sine:440',
    '--duration',
    '1',
    '--preset',
    'voice',
    '--title',
    'Before',
  ]).done;
  expect(made.code, made.stderr).toBe(0);
  const bobNew = await mx('listen', 'bob', 'new', ['--list']).done;
  expect(bobNew.code, bobNew.stderr).toBe(0);
}, 600_000);

afterAll(async () => {
  await room?.stop();
});

describe('a member device that appeared after the keys went out asks for them', () => {
  it("bob's new device gets the key from the running capture and hears the tone; eve gets nothing", async () => {
    const alice = mx('capture', 'alice', 'capture', [
      '--input',
      'sine:440',
      '--duration',
      '120',
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Asked',
    ]);
    await alice.waitFor(/announced in .* as broadcast \S+/, 60_000);
    const wav = path.join(room.work, 'bob.wav');
    const bob = mx('listen', 'bob', 'new', ['--from', '0', '--out', wav]);
    // The key is not there by itself: bob's device asks, the capture answers.
    await bob.waitFor(/asked the broadcaster/, 60_000);
    await alice.waitFor(/key request from @bob:\S+: re-announced/, 60_000);
    await bob.waitFor(/listen: \S+ "Asked" by /, 60_000);

    // eve, not in the room: the homeserver refuses her request outright.
    const txn = `kr-${Date.now()}`;
    const r = await fetch(
      `${room.stack.url}/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/send/` +
        `org.mxcast.broadcast.key_request/${txn}`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${eve.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ broadcast_id: 'any' }),
      },
    );
    expect(r.status).toBe(403);
    expect(((await r.json()) as { errcode: string }).errcode).toBe('M_FORBIDDEN');

    await new Promise((res) => setTimeout(res, 4000));
    alice.child.kill('SIGINT');
    const [a, b] = await Promise.all([alice.done, bob.done]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/broadcast: finished\n/);
    // Only bob was answered.
    expect(a.stderr.match(/key request from (\S+):/g) ?? []).not.toContainEqual(
      expect.stringContaining(eve.userId),
    );
    const audio = readWav(new Uint8Array(readFileSync(wav)));
    const heard = audio.samples.length / audio.channels / 48_000;
    expect(heard).toBeGreaterThan(3);
    // A tone throughout (sine at the capture's level), not silence.
    expect(rms(audio.samples.subarray(audio.channels * 4800))).toBeGreaterThan(0.1);
  }, 300_000);

  it('joined history: a new device of a member gets the header epoch and the newest, as a joiner would', async () => {
    // Another new device of bob's, made while alice's capture device is offline.
    const made = await mx('listen', 'bob', 'newer', ['--list']).done;
    expect(made.code, made.stderr).toBe(0);
    const alice = mx('capture', 'alice', 'capture', [
      ...['--input', 'sine:440', '--duration', '120', '--realtime', '--preset', 'voice'],
      ...['--title', 'Joined', '--history', 'joined', '--rekey-every', '2s'],
    ]);
    await alice.waitFor(/history policy: joined/, 60_000);
    // Some epochs go by before bob's newer device starts listening.
    await new Promise((res) => setTimeout(res, 7000));
    const wav = path.join(room.work, 'bob-joined.wav');
    const bob = mx('listen', 'bob', 'newer', ['--out', wav]);
    await bob.waitFor(/asked the broadcaster/, 60_000);
    await alice.waitFor(/key request from @bob:\S+: re-announced/, 60_000);
    await bob.waitFor(/listen: \S+ "Joined" by /, 60_000);
    // Its first epoch is announced ahead: the live listen starts there, however close the live
    // edge was to it (packages/player/src/live-key-start.ts), never in the withheld stretch.
    const startLine =
      /listen: blocks 2-(\d+) were sent before you joined: a live listen starts at block (\d+) at the earliest/;
    await bob.waitFor(startLine, 60_000);
    const said = startLine.exec(bob.stderr()) ?? [];
    await new Promise((res) => setTimeout(res, 3000));
    alice.child.kill('SIGINT');
    const [a, b] = await Promise.all([alice.done, bob.done]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/broadcast: finished\n/);
    expect(b.stderr).not.toMatch(/no access/i);
    // Audio from its first held epoch to the end: the tone, not silence.
    const audio = readWav(new Uint8Array(readFileSync(wav)));
    const heard = audio.samples.length / audio.channels / 48_000;
    expect(heard).toBeGreaterThan(1);
    expect(rms(audio.samples)).toBeGreaterThan(0.1);
    // Where the audio began: the end position less what was heard, in blocks (voice: 240 ms
    // each, audio from block 2). At or after its first held epoch, never in the stretch before.
    const end = /listen: finished position=(\d+):(\d+):([\d.]+)/.exec(b.stderr) ?? [];
    const endAt = Number(end[1]) * 3600 + Number(end[2]) * 60 + Number(end[3]);
    const startedAt = 2 + Math.round((endAt - heard) / 0.24);
    // When the live edge was still before that epoch (the join came within its lead), the
    // listener said it waits for its first block, and the audio begins there.
    const moved = /listen: live from block (\d+), .* the live edge is at block (\d+)/.exec(
      b.stderr,
    );
    console.log(
      `joined: first held epoch at block ${said[2]}, audio from block ${startedAt} (${heard.toFixed(2)} s heard); ` +
        (moved ? `the live edge was at block ${moved[2]}: waited` : 'the live edge was past it'),
    );
    expect(startedAt).toBeGreaterThanOrEqual(Number(said[2]));
    if (moved) {
      expect(moved[1]).toBe(said[2]);
      expect(Math.abs(startedAt - Number(said[2]))).toBeLessThanOrEqual(1);
    }

    // The newer device: the header epoch (OpusHead/OpusTags only, ending at block 2), then the
    // newest epoch at the answer and those sent after it (its device was known by then) —
    // never the epochs in between, which went out before it existed.
    const newer = await heldEpochs('newer');
    expect(newer[0]).toEqual({ index: 0, startSeq: 0, endSeq: 2 });
    const got = newer.slice(1).map((e) => e.index);
    const first = got[0]!;
    // The live start the listener named is that first held epoch's first block.
    expect(Number(said[2])).toBe(newer[1]?.startSeq);
    expect(first).toBeGreaterThanOrEqual(3);
    expect(got).toEqual(got.map((_, i) => first + i));
    // bob's device from before this broadcast got every epoch as it went out, those included.
    const before = (await heldEpochs('new')).map((e) => e.index);
    console.log(
      `joined: newer device holds epochs 0,${got.join(',')}; older device ${before.join(',')}`,
    );
    for (let k = 1; k < first; k++) expect(before).toContain(k);
    expect(before).toContain(first);
  }, 300_000);

  it('no capture running: the listener says the broadcaster did not answer', async () => {
    // A third new device of bob's; every broadcast has finished, nobody answers its requests.
    const bob = await mx('listen', 'bob', 'newest', ['--out', path.join(room.work, 'none.wav')])
      .done;
    expect(bob.code, bob.stderr).not.toBe(0);
    expect(bob.stderr).toMatch(/asked the broadcaster/);
    expect(bob.stderr).toMatch(
      /no key for broadcast \S+: .*the broadcaster's device did not answer [1-9]\d* key request\(s\): it may be offline/,
    );
  }, 120_000);
});

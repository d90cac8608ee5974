/**
 * A real `mxcast capture --homeserver --room` PROCESS whose relay goes out of reach
 * (docs/matrix.md "Checkpoints and completion"): for a few seconds, the room's state goes
 * `paused` then `resumed`, the capture's status line says so, and bob's `mxcast listen`
 * hears the whole broadcast, finished; for longer than `--max-outage`, the capture fails and
 * leaves the broadcast interrupted (state `paused`, no cancel event): bob's listen reports
 * "interrupted", not "cancelled". The capture uploads through a TCP link the test can cut;
 * its Matrix side goes straight to nginx.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCuttableLink, type CuttableLink } from './matrix-broadcast-cutter.ts';
import { startCliRoom, type CliRoom } from './matrix-cli-kit.ts';
import { runMxcast } from '../capture/capture-harness.ts';
import { matrixCall, registerUser } from './matrix-users.ts';

let room: CliRoom;
let link: CuttableLink;

beforeAll(async () => {
  room = await startCliRoom({ relayHomeserver: true });
  link = await startCuttableLink(room.stack.url);
  // bob's listen device exists before the first announcement: the key share reaches it.
  await room.mx('listen', 'bob', ['--list']).done;
}, 900_000);

afterAll(async () => {
  await link?.close();
  await room?.stop();
});

/** alice's capture of a paced tone, uploading through the cuttable link. */
function capture(title: string, seconds: number, extra: string[] = []) {
  return room.mx('capture', 'alice', [
    '--input',
    'sine:440',
    '--duration',
    String(seconds),
    '--realtime',
    '--preset',
    'voice',
    '--title',
    title,
    '--checkpoint-every',
    '1',
    '--relay',
    link.url,
    ...extra,
  ]);
}

/** The broadcast's state events in the room's order (state events are not encrypted). */
async function statesOf(id: string): Promise<string[]> {
  const res = await matrixCall<{
    chunk: { type: string; state_key?: string; content: { state?: string } }[];
  }>(
    room.stack.url,
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/messages?dir=b&limit=200`,
    { token: room.users.alice.accessToken },
  );
  return res.chunk
    .filter((e) => e.type === 'org.mxcast.broadcast.state' && e.state_key === id)
    .map((e) => e.content.state ?? '')
    .reverse();
}

describe('the relay out of reach of a capture process', () => {
  it('a few seconds: paused then resumed in the room and on the status line; heard finished', async () => {
    const alice = capture('Shaky show', 10);
    await alice.waitFor(/announced in .* as broadcast \S+/, 60_000);
    const id = /as broadcast (\S+)/.exec(alice.stderr())![1]!;
    // bob listens from the start, straight to nginx: the outage is alice's alone.
    const wav = path.join(room.work, 'shaky.wav');
    const bob = room.mx('listen', 'bob', [`--broadcast=${id}`, '--from', '0', '--out', wav]);
    await new Promise((r) => setTimeout(r, 2500));
    await link.cut(3000);
    const [captured, heard] = await Promise.all([alice.done, bob.done]);
    expect(captured.code, captured.stderr).toBe(0);
    // The status line, in order: lost (paused in the room), then back (resumed).
    expect(captured.stderr).toMatch(/relay lost: paused in the room[\s\S]*relay back: resumed/);
    expect(captured.stderr).toMatch(/matrix: completion sent/);
    expect(await statesOf(id)).toEqual(['started', 'paused', 'resumed', 'stopped']);
    expect(heard.code, heard.stderr).toBe(0);
    expect(heard.stderr).toMatch(/broadcast: finished\n/);
    // All 10 s heard (16-bit mono, 48 kHz, 44-byte header): the broadcast went on.
    const seconds = (statSync(wav).size - 44) / 2 / 48_000;
    expect(seconds).toBeGreaterThan(9.5);
  }, 120_000);

  it('past --max-outage: the capture fails and leaves it interrupted, not cancelled', async () => {
    const alice = capture('Lost show', 30, ['--max-outage', '2']);
    await alice.waitFor(/announced in .* as broadcast \S+/, 60_000);
    const id = /as broadcast (\S+)/.exec(alice.stderr())![1]!;
    await new Promise((r) => setTimeout(r, 2500));
    const outage = link.cut(8000);
    const captured = await alice.done;
    await outage;
    expect(captured.code, captured.stderr).not.toBe(0);
    expect(captured.code, captured.stderr).not.toBe(130);
    expect(captured.stderr).toMatch(/matrix: left interrupted/);
    expect(captured.stderr).not.toMatch(/cancel sent/);
    // Paused, never stopped: a `--resume` may continue it.
    // (Synapse may keep one event for a repeated identical state.)
    const states = await statesOf(id);
    expect(states.slice(0, 2)).toEqual(['started', 'paused']);
    expect(states.at(-1)).toBe('paused');
    expect(states).not.toContain('stopped');
    const listed = await room.mx('listen', 'bob', ['--list']).done;
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\tpaused\\t`, 'm'));
    // bob hears what was stored, and no cancel: the sender's claims say "interrupted".
    const wav = path.join(room.work, 'lost.wav');
    const bob = await room.mx('listen', 'bob', [
      `--broadcast=${id}`,
      '--from',
      '0',
      '--duration',
      '1',
      '--out',
      wav,
      '--quiet',
    ]).done;
    expect(bob.stderr).toMatch(/broadcast: interrupted\n/);
    expect(bob.stderr).not.toMatch(/cancelled/);
    expect(existsSync(wav)).toBe(true);
  }, 120_000);

  it('eve, a user of the homeserver not in the room: "not a member", exit 5, before any play', async () => {
    const eve = await registerUser(room.stack, 'eve', 'eve-password-1');
    const pw = path.join(room.work, 'eve.password');
    writeFileSync(pw, 'eve-password-1\n', { mode: 0o600 });
    const base = ['--homeserver', room.stack.url, '--room', room.roomId, '--user', eve.userId];
    const rest = ['--password-file', pw, '--state-dir', path.join(room.work, 'eve-listen')];
    for (const extra of [['--list'], ['--out', path.join(room.work, 'eve.wav')]]) {
      const out = await runMxcast(['listen', ...base, ...rest, ...extra]).done;
      expect(out.code, out.stderr).toBe(5);
      expect(out.stderr).toContain(`not a member of ${room.roomId}: join it first`);
    }
    expect(existsSync(path.join(room.work, 'eve.wav'))).toBe(false);
  }, 120_000);
});

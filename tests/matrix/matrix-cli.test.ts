/**
 * `mxcast capture --homeserver --room` and `mxcast listen --homeserver --room` against the real
 * stack (docs/matrix.md "From nothing to a live broadcast in a room"): Synapse behind nginx, the
 * relay in homeserver mode (the Matrix access token is the upload and download token), and every
 * user a separate `mxcast` process with a password from a file and a device in its state dir.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { runMxcast } from '../capture/capture-harness.ts';
import { startMatrixStack, type MatrixStack } from './matrix-stack.ts';
import { matrixCall, registerUser, type MatrixUser } from './matrix-users.ts';

let stack: MatrixStack;
let work: string;
let roomId: string;
const users: Record<string, MatrixUser> = {};

/** `mxcast <command> --homeserver … --room … --user … --password-file …` as `name`. */
function mx(command: 'capture' | 'listen', name: string, args: string[]) {
  return runMxcast([
    command,
    '--homeserver',
    stack.url,
    '--room',
    roomId,
    '--user',
    users[name]!.userId,
    '--password-file',
    path.join(work, `${name}.password`),
    '--state-dir',
    path.join(work, `${name}-${command}`),
    ...args,
  ]);
}

function rms(samples: Float32Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

beforeAll(async () => {
  stack = await startMatrixStack({ relayHomeserver: true });
  work = mkdtempSync(path.join(tmpdir(), 'mxcast-matrix-cli-'));
  for (const name of ['alice', 'bob']) {
    users[name] = await registerUser(stack, name, `${name}-password-1`);
    // The password reaches mxcast through a file, never its command line.
    writeFileSync(path.join(work, `${name}.password`), `${name}-password-1\n`, { mode: 0o600 });
  }
  const room = await matrixCall<{ room_id: string }>(
    stack.url,
    'POST',
    '/_matrix/client/v3/createRoom',
    {
      token: users.alice!.accessToken,
      body: {
        preset: 'private_chat',
        invite: [users.bob!.userId],
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
  roomId = room.room_id;
  await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
    token: users.bob!.accessToken,
    body: {},
  });
}, 900_000);

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('mxcast capture/listen in a Matrix room', () => {
  it('alice goes live with mxcast capture; bob lists it live, hears it, and it ends finished', async () => {
    // bob's listen device exists before the announcement (an empty room lists nothing).
    const first = await mx('listen', 'bob', ['--list']).done;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');

    const alice = mx('capture', 'alice', [
      '--input',
      'sine:440',
      '--duration',
      '6',
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Morning show',
      '--checkpoint-every',
      '1',
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);

    const listed = await mx('listen', 'bob', ['--list']).done;
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const [id, state, , , broadcaster, title] = lines[0]!.split('\t');
    expect(state).toMatch(/^(started|resumed)$/);
    expect(broadcaster).toBe(users.alice!.userId);
    expect(title).toBe('Morning show');

    // From the start, so the whole 6 s are in the file; the listen follows the live upload.
    const wav = path.join(work, 'bob.wav');
    const bob = await mx('listen', 'bob', ['--from', '0', '--out', wav, '--quiet']).done;
    const captured = await alice.done;
    expect(captured.code, captured.stderr).toBe(0);
    expect(captured.stderr).toMatch(/completion sent \(\d+ blocks\)/);
    expect(bob.code, bob.stderr).toBe(0);
    expect(bob.stderr).toMatch(/broadcast: finished\n/);
    expect(bob.stderr).toMatch(
      /checked against the sender: \d+ blocks, [1-9]\d* checkpoints verified/,
    );
    const audio = readWav(new Uint8Array(readFileSync(wav)));
    const seconds = audio.samples.length / audio.channels / 48_000;
    expect(seconds).toBeGreaterThan(5.5);
    expect(seconds).toBeLessThan(6.5);
    expect(rms(audio.samples)).toBeGreaterThan(0.05);

    // Now stopped, with its duration, and still playable by id.
    const after = await mx('listen', 'bob', ['--list']).done;
    expect(after.stdout).toContain(`${id}\tstopped\t`);
  }, 120_000);

  it('a capture cancelled with a second Ctrl-C is reported as cancelled', async () => {
    const alice = mx('capture', 'alice', [
      '--input',
      'sine:330',
      '--duration',
      '30',
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Cut short',
      '--checkpoint-every',
      '1',
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    // The second Ctrl-C must land while the first one's finish is still under way (the last
    // page and the upload's end take a few tens of ms on loopback): 10 ms apart, not at once,
    // so the kernel does not merge the two pending signals into one.
    alice.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 10));
    alice.child.kill('SIGINT');
    const captured = await alice.done;
    expect(captured.stderr).toMatch(/matrix: cancel sent/);
    expect(captured.code).not.toBe(0);

    const listed = await mx('listen', 'bob', ['--list']).done;
    const newest = listed.stdout.trim().split('\n')[0]!.split('\t');
    expect(newest[1]).toBe('stopped');
    expect(newest[5]).toBe('Cut short');
    // Default choice: no live broadcast, so the newest, the cancelled one.
    const bob = await mx('listen', 'bob', ['--out', path.join(work, 'cut.wav'), '--quiet']).done;
    expect(bob.stderr).toMatch(/broadcast: cancelled\n/);
    expect(bob.code, bob.stderr).toBe(3);
  }, 120_000);
});

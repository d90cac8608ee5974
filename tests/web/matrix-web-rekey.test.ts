/**
 * Key epochs from the web broadcaster on the real stack (docs/web.md "Key epochs",
 * docs/matrix.md "Key epochs"): alice goes live from Chromium in an encrypted room; bob and
 * carol listen with `mxcast listen --homeserver --room` (each a process with its own device).
 * alice presses Rekey: the page counts the new epoch and says why, bob's listen receives the
 * epoch event and plays across the boundary. alice kicks carol: the page's reason names her,
 * carol's listen exits 8 (no access) at the kick's epoch while bob keeps hearing. At the end
 * bob's WAV is the tone without a silent block, every block decrypted (AES-GCM: a block
 * under a wrong key never opens) and checked against alice's checkpoints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { runMxcast, type CliRun } from '../capture/capture-harness.ts';
import { rms, type CliRoom } from '../matrix/matrix-cli-kit.ts';
import { matrixCall, registerUser, type MatrixUser } from '../matrix/matrix-users.ts';
import { logInAs, startMatrixWeb, type MatrixWeb } from './matrix-web-harness.ts';
import { TONE_HZ, type WebRig } from './web-harness.ts';

const TITLE = 'Web epochs';

let mw: MatrixWeb;
let room: CliRoom;
let rig: WebRig;
let carolUser: MatrixUser;
const running: CliRun[] = [];

/** `mxcast listen --homeserver … --room …` as bob or carol, on the device in their state dir. */
function listen(name: 'bob' | 'carol', args: string[]): CliRun {
  const user = name === 'bob' ? room.users.bob : carolUser;
  const run = runMxcast([
    'listen',
    '--homeserver',
    room.stack.url,
    '--room',
    room.roomId,
    '--user',
    user.userId,
    '--password-file',
    path.join(room.work, `${name}.password`),
    '--state-dir',
    path.join(room.work, `${name}-listen`),
    ...args,
  ]);
  running.push(run);
  return run;
}

/**
 * Start times (s) of the 20 ms windows under a quarter of the tone's level (`level`: the
 * recording's own, as the browser's fake microphone sets it), past the first second and before
 * the last half.
 */
function silentWindows(samples: Float32Array, channels: number, level: number): number[] {
  const win = 960 * channels;
  const at: number[] = [];
  for (let i = 48_000 * channels; i + win <= samples.length - 24_000 * channels; i += win) {
    if (rms(samples.subarray(i, i + win)) < level / 4) at.push(i / channels / 48_000);
  }
  return at;
}

/**
 * The longest run of adjacent silent windows. A lost or unopened block (240 ms) would leave
 * twelve in a row. A lone window is not a block: once in CI (a loaded machine) bob's 25 s held
 * one, every block authenticated and checked against alice's checkpoints, so it came in with the
 * input; Chromium's WebAudio fills an underrun of its capture FIFO with zeros
 * (webaudio_media_stream_audio_sink), our best reading of it, and the page encodes what it got.
 */
function longestRun(at: number[]): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < at.length; i++) {
    run = i > 0 && Math.abs(at[i]! - at[i - 1]! - 0.02) < 1e-6 ? run + 1 : 1;
    longest = Math.max(longest, run);
  }
  return longest;
}

beforeAll(async () => {
  mw = await startMatrixWeb();
  ({ room, rig } = mw);
  carolUser = await registerUser(room.stack, 'carol', 'carol-password-1');
  writeFileSync(path.join(room.work, 'carol.password'), 'carol-password-1\n', { mode: 0o600 });
  const r = encodeURIComponent(room.roomId);
  await matrixCall(room.stack.url, 'POST', `/_matrix/client/v3/rooms/${r}/invite`, {
    token: room.users.alice.accessToken,
    body: { user_id: carolUser.userId },
  });
  await matrixCall(room.stack.url, 'POST', `/_matrix/client/v3/join/${r}`, {
    token: carolUser.accessToken,
    body: {},
  });
  // Both listeners' devices exist before alice's announcement (keys uploaded at login).
  const made = await Promise.all([
    listen('bob', ['--list']).done,
    listen('carol', ['--list']).done,
  ]);
  for (const m of made) expect(m.code, m.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  for (const run of running) run.child.kill('SIGKILL');
  await mw?.close();
});

describe('web broadcaster key epochs', () => {
  it('Rekey and a kick from the web: bob hears across both boundaries, carol loses access', async () => {
    const context = await rig.browser.newContext({ viewport: { width: 900, height: 760 } });
    try {
      const { roomItem } = mw;
      const alice = await logInAs(mw, 'alice', { context, token: true });
      await alice.click(roomItem);
      await alice.click('#broadcast-here');
      await alice.waitForSelector('#setup', { timeout: 30_000 });
      await alice.fill('#broadcast-title', TITLE);
      // Music: no noise suppression, which would take a steady test tone for noise.
      await alice.check('input[name=preset][value=music]');
      await alice.click('#go-live');
      await alice.waitForSelector('#live', { timeout: 30_000 });
      // Epoch 0 and the header epoch's end at block 2, as the CLI's room capture.
      await alice.waitForFunction(
        () => Number(document.querySelector('#epochs')?.textContent) === 2,
        undefined,
        { timeout: 30_000 },
      );

      const bobWav = path.join(room.work, 'bob.wav');
      const bob = listen('bob', ['--from', '0', '--out', bobWav]);
      const carol = listen('carol', ['--from', '0', '--out', path.join(room.work, 'carol.wav')]);
      await Promise.all(
        [bob, carol].map((p) => p.waitFor(new RegExp(`listen: \\S+ "${TITLE}" by `), 90_000)),
      );
      await alice.waitForTimeout(2000);

      // Rekey: a third epoch, the reason on the page, the epoch event reaches bob.
      const epochsBefore = (bob.stderr().match(/listen: key epoch from block \d+/g) ?? []).length;
      await alice.click('#rekey');
      await alice.waitForSelector('#rekey-reason:has-text("Rekey pressed")', { timeout: 20_000 });
      await alice.waitForFunction(
        () => Number(document.querySelector('#epochs')?.textContent) === 3,
        undefined,
        { timeout: 30_000 },
      );
      const deadline = Date.now() + 30_000;
      while (
        (bob.stderr().match(/listen: key epoch from block \d+/g) ?? []).length <= epochsBefore
      ) {
        if (Date.now() > deadline) throw new Error(`bob never got the epoch:\n${bob.stderr()}`);
        await alice.waitForTimeout(250);
      }
      await alice.waitForTimeout(3000);

      // Kick carol: the room's reason to rekey, shown on alice's page; carol loses access.
      await matrixCall(
        room.stack.url,
        'POST',
        `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/kick`,
        { token: room.users.alice.accessToken, body: { user_id: carolUser.userId } },
      );
      await alice.waitForSelector(`#rekey-reason:has-text("${carolUser.userId} left")`, {
        timeout: 30_000,
      });
      const c = await carol.done;
      expect(c.code, c.stderr).toBe(8);
      expect(c.stderr).toMatch(/you no longer have access to this broadcast/);
      expect(Number(await alice.textContent('#epochs'))).toBe(4);
      await alice.waitForTimeout(3000);

      await alice.click('#stop');
      await alice.waitForSelector('#ended', { timeout: 60_000 });
      const b = await bob.done;
      expect(b.code, b.stderr).toBe(0);
      expect(b.stderr).toMatch(/broadcast: finished\n/);
      expect(b.stderr).toMatch(/checked against the sender: \d+ blocks/);
      // bob got the Rekey's and the kick's epoch events while playing.
      expect((b.stderr.match(/listen: key epoch from block \d+/g) ?? []).length).toBeGreaterThan(
        epochsBefore + 1,
      );
      const audio = readWav(new Uint8Array(readFileSync(bobWav)));
      const heard = audio.samples.length / audio.channels / 48_000;
      expect(heard).toBeGreaterThan(8);
      const levels: number[] = [];
      for (let i = 0; i + 48_000 <= audio.samples.length; i += 48_000) {
        levels.push(Math.round(rms(audio.samples.subarray(i, i + 48_000)) * 1000) / 1000);
      }
      const level = [...levels].sort((x, y) => x - y)[levels.length >> 1]!;
      expect(level).toBeGreaterThan(0.01);
      const epochs = b.stderr.match(/listen: key epoch from block \d+/g) ?? [];
      const silent = silentWindows(audio.samples, audio.channels, level);
      const at = silent.map((t) => t.toFixed(2));
      const why = `silent at ${at} s; rms per second: ${levels}; ${epochs.join(', ')}`;
      expect(longestRun(silent), why).toBeLessThanOrEqual(2);
      expect(silent.length, why).toBeLessThanOrEqual(3);
      // The fake microphone's tone (mono): zero crossings over the middle say its pitch.
      const mid = audio.samples.subarray(48_000, audio.samples.length - 48_000);
      let crossings = 0;
      for (let i = 1; i < mid.length; i++) if (mid[i - 1]! < 0 !== mid[i]! < 0) crossings++;
      expect(Math.abs(crossings / 2 / (mid.length / 48_000) - TONE_HZ)).toBeLessThan(15);
    } finally {
      await context.close();
    }
  }, 300_000);
});

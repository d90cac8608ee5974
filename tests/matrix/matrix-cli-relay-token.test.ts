/**
 * `mxcast capture/listen --homeserver --room` with a relay that keeps its own tokens (not in
 * homeserver mode), as scripts/matrix-stack.sh starts it and docs/matrix.md's step-by-step uses
 * it: the Matrix session finds the room and the key, MXCAST_TOKEN carries each user's relay token.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { rms, startCliRoom, type CliRoom } from './matrix-cli-kit.ts';

let room: CliRoom;

beforeAll(async () => {
  room = await startCliRoom();
}, 900_000);

afterAll(async () => {
  await room?.stop();
});

it('relay tokens from MXCAST_TOKEN: alice broadcasts, bob hears it finished', async () => {
  const env = (name: 'alice' | 'bob') => ({
    ...process.env,
    MXCAST_TOKEN: room.users[name].relayToken,
  });
  const first = await room.mx('listen', 'bob', ['--list'], env('bob')).done;
  expect(first.code, first.stderr).toBe(0);
  const alice = room.mx(
    'capture',
    'alice',
    ['--input', 'sine:440', '--duration', '4', '--realtime', '--checkpoint-every', '1'],
    env('alice'),
  );
  await alice.waitFor(/announced in .* as broadcast/, 60_000);
  const wav = path.join(room.work, 'bob.wav');
  const bob = await room.mx('listen', 'bob', ['--from', '0', '--out', wav, '--quiet'], env('bob'))
    .done;
  const captured = await alice.done;
  expect(captured.code, captured.stderr).toBe(0);
  expect(bob.code, bob.stderr).toBe(0);
  expect(bob.stderr).toMatch(/broadcast: finished\n/);
  const audio = readWav(new Uint8Array(readFileSync(wav)));
  expect(audio.samples.length / audio.channels / 48_000).toBeGreaterThan(3.5);
  expect(rms(audio.samples)).toBeGreaterThan(0.05);

  // A relay with its own tokens serves downloads without one: the listen needs no relay token.
  const again = await room.mx('listen', 'bob', ['--out', path.join(room.work, 'again.wav')]).done;
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).toMatch(/broadcast: finished\n/);
}, 120_000);

/**
 * `mxcast listen` without --out plays through the system's audio player (docs/player.md: aplay or
 * paplay where installed, else it says how to use --out). This machine has no sound card, so
 * the players are stand-ins on PATH: shell scripts that record their arguments and the PCM on
 * their stdin. What is tested is ours: which player is picked, the arguments it is given, that
 * every sample reaches it (byte for byte what `--out -` writes), and the error without one.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeBroadcast,
  useTestRelay,
  startUpload,
  listenLinkOf,
  uploadFinished,
  wait,
} from '../player/broadcast-fixture.ts';
import { MXCAST_BIN, mxcast, type MxcastRun } from './mxcast-process.ts';

/** `mxcast ARGS` with PATH set to `path` (the stand-in players). */
const mxcastOnPath = (args: string[], path: string): Promise<MxcastRun> =>
  mxcast(args, { ...process.env, PATH: path });

/** A directory holding `which` and stand-ins for the named players (and nothing else). */
function binDir(players: string[], body?: string): string {
  const bin = join(dir, `bin-${players.join('-') || 'none'}${body ? '-custom' : ''}`);
  mkdirSync(bin);
  symlinkSync('/usr/bin/which', join(bin, 'which'));
  for (const name of players) {
    const script = join(bin, name);
    writeFileSync(
      script,
      body ?? `#!/bin/sh\necho "$@" > "${bin}/${name}.args"\n/bin/cat > "${bin}/${name}.pcm"\n`,
    );
    chmodSync(script, 0o755);
  }
  return bin;
}

const relay = useTestRelay();
let dir: string;
let link: string;
/** What `--out -` writes for the whole broadcast: the reference. */
let reference: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mxcast-listen-player-'));
  const b = await encodeBroadcast('voice', 3);
  const up = await uploadFinished(relay, b);
  link = listenLinkOf(up);
  const r = await mxcastOnPath(['listen', link, '--out', '-'], process.env.PATH ?? '');
  expect(r.code, r.stderr).toBe(0);
  reference = r.stdout;
  // The whole broadcast, mono s16le: its samples less the Opus pre-skip (RFC 7845 §4.2).
  const samples = reference.length / 2;
  expect(samples).toBeGreaterThan(b.pcm.length - 960);
  expect(samples).toBeLessThanOrEqual(b.pcm.length);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

describe('mxcast listen without --out', () => {
  it('prefers paplay and gives it every sample as raw s16le 48 kHz', async () => {
    const bin = binDir(['paplay', 'aplay']);
    const r = await mxcastOnPath(['listen', link], bin);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(readFileSync(join(bin, 'paplay.args'), 'utf8').trim()).toBe(
      '--raw --format=s16le --rate=48000 --channels=1',
    );
    expect(readFileSync(join(bin, 'paplay.pcm')).equals(reference)).toBe(true);
    expect(() => readFileSync(join(bin, 'aplay.args'))).toThrow();
  });

  it('uses aplay where paplay is missing', async () => {
    const bin = binDir(['aplay']);
    const r = await mxcastOnPath(['listen', link], bin);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(bin, 'aplay.args'), 'utf8').trim()).toBe(
      '-q -t raw -f S16_LE -r 48000 -c 1',
    );
    expect(readFileSync(join(bin, 'aplay.pcm')).equals(reference)).toBe(true);
  });

  it('without a player, says how to use --out and exits with the bad-arguments status', async () => {
    const r = await mxcastOnPath(['listen', link], binDir([]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no audio player found \(aplay or paplay\); use --out FILE\.wav/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a player that quits ends the listen with a one-line error, not a hang', async () => {
    const bin = binDir(['paplay'], '#!/bin/sh\nexit 7\n');
    const r = await mxcastOnPath(['listen', link], bin);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/OUTPUT: the audio player paplay exited \(code 7\)/);
  });
});

describe('mxcast listen --out -', () => {
  it('stops when its reader goes away (| head) instead of writing into a closed pipe', async () => {
    // A live broadcast: the listener keeps getting audio after its reader has left.
    const b = await encodeBroadcast('voice', 20);
    const up = await startUpload(relay, b);
    up.send(3);
    const liveLink = listenLinkOf(up);
    const child = spawn(
      process.execPath,
      [MXCAST_BIN, 'listen', liveLink, '--out', '-', '--from', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Like `| head -c 1`: read the first bytes, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    // Keep the broadcast going (one voice block per 240 ms) until the listener gives up.
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    for (let seq = 4; seq <= b.blocks.length && code === undefined; seq++) {
      up.send(seq);
      await wait(240);
    }
    expect(code, `listen did not stop after its reader left: ${err}`).not.toBeUndefined();
    expect(code, err).toBe(7);
    expect(err).toMatch(/OUTPUT: the PCM output is closed \(.*EPIPE/);
    await up.end();
  });
});

/**
 * `mxcast listen --from T` on a live broadcast reports how far behind live it really is
 * (docs/player.md "Delay behind live"). A listener started at a time reads ahead of its
 * position by about the playout buffer only, so the blocks it has received say nothing about
 * the live edge: the readout must come from the relay's index, which the command asks before
 * each periodic status line. It once printed `behind-live=0.23s` for a listener ~14 s behind.
 *
 * Paced playback (no --out) through a stand-in `paplay` on PATH (this machine has no sound card).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeBroadcast,
  listenLinkOf,
  startUpload,
  useTestRelay,
  wait,
} from './broadcast-fixture.ts';
import { MXCAST_BIN } from '../cli/mxcast-process.ts';

const BLOCK_S = 0.24; // the voice preset: 12 frames of 20 ms per block (docs/audio.md)

const relay = useTestRelay();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mxcast-behind-live-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seconds of audio in the first `blocks` blocks (blocks 0 and 1 are the Ogg headers). */
function audioSeconds(blocks: number): number {
  return Math.max(0, blocks - 2) * BLOCK_S;
}

describe('mxcast listen --from on a live broadcast', () => {
  it('prints the delay behind the live edge the relay holds, not behind the blocks it read', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync('/usr/bin/which', join(bin, 'which'));
    writeFileSync(join(bin, 'paplay'), '#!/bin/sh\n/bin/cat > /dev/null\n');
    chmodSync(join(bin, 'paplay'), 0o755);

    const b = await encodeBroadcast('voice', 40);
    const up = await startUpload(relay, b);
    // 18 s already broadcast when the listener starts 3 s in: it is ~15 s behind.
    const head = 2 + Math.round(18 / BLOCK_S);
    up.send(head);
    const child = spawn(
      process.execPath,
      [MXCAST_BIN, 'listen', listenLinkOf(up), '--from', '3', '--duration', '5'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PATH: bin } },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    // The broadcast goes on in real time while the listener plays.
    for (let seq = head + 1; seq <= b.blocks.length && code === undefined; seq++) {
      up.send(seq);
      await wait(BLOCK_S * 1000);
    }
    await exited;
    const sentAtEnd = up.sent;
    await up.end();
    expect(code, err).toBe(0);

    const readings = [...err.matchAll(/position=0:00:(\d+\.\d+) behind-live=(\d+\.\d+)s/g)].map(
      (m) => ({ position: Number(m[1]), delay: Number(m[2]) }),
    );
    // The periodic lines (every 2 s of a ~5 s listen) carry a delay; the earliest state lines
    // may print '-' (edge not known yet), never a made-up figure.
    expect(readings.length, err).toBeGreaterThanOrEqual(2);
    for (const { position, delay } of readings) {
      // position + delay is the live edge the relay held at that moment: at least what was
      // sent before the listener started, at most what was sent by the end.
      expect(position + delay, err).toBeGreaterThanOrEqual(audioSeconds(head) - 0.5);
      expect(position + delay, err).toBeLessThanOrEqual(audioSeconds(sentAtEnd) + 0.5);
      expect(delay, err).toBeGreaterThan(12);
    }
  }, 30_000);
});

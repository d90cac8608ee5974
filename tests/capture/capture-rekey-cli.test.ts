/**
 * `mxcast capture --rekey-every DURATION` (docs/format.md "Key epochs"), the real bin against a
 * real relay: the epochs land in the --state file, the link's key (epoch 0) opens only the
 * blocks before the first boundary, and a player fed the state's epochs plays the whole
 * broadcast with no gap. A bad duration is a bad argument (exit 2).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaClient, parseListenLink } from '@mxcast/client';
import {
  BlockFramer,
  createBlockCipher,
  KeySchedule,
  type EncryptedFile,
  type Epoch,
} from '@mxcast/format';
import { EpochKeyRing, MemorySink, Player } from '@mxcast/player';
import { linkFrom, runCapture, tempDir, useInProcessRelay } from './capture-harness.ts';

const relay = useInProcessRelay();

describe('mxcast capture --rekey-every', () => {
  it('puts every epoch in the state; the link opens epoch 0 only; the epochs play seamlessly', async () => {
    const statePath = join(tempDir(), 'state.json');
    const run = runCapture(relay(), [
      '--input',
      'sine',
      '--preset',
      'voice',
      '--duration',
      '3',
      '--fast',
      '--rekey-every',
      '0.8s',
      '--state',
      statePath,
      '--quiet',
    ]);
    const { code, stdout, stderr } = await run.done;
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('--rekey-every without --homeserver');
    const link = parseListenLink(linkFrom(stdout));
    const state = JSON.parse(await readFile(statePath, 'utf8')) as { epochs: Epoch[] };
    // 0.8 s, 1.6 s, 2.4 s of 3 s: three boundaries after epoch 0.
    const schedule = new KeySchedule(state.epochs);
    expect(schedule.epochs).toHaveLength(4);
    expect(schedule.epochs[0]?.key.k).toBe((link.file as EncryptedFile).key.k);

    const wire = new Uint8Array(
      await (await new MediaClient({ baseUrl: relay().url }).download(link.mxc)).arrayBuffer(),
    );
    const framer = new BlockFramer();
    const blocks = framer.push(wire);
    framer.finish();
    const linkCipher = await createBlockCipher(link.file as EncryptedFile);
    const first = schedule.epochs[1]?.startSeq as number;
    for (const b of blocks) {
      const ok = await linkCipher.decrypt(b.seq, b.ciphertext).then(
        () => true,
        () => false,
      );
      expect(ok, `block ${b.seq} under the link's key`).toBe(b.seq < first);
    }

    const sink = new MemorySink();
    const player = new Player({
      relayUrl: relay().url,
      mxc: link.mxc,
      keys: new EpochKeyRing(state.epochs),
      sink,
    });
    const outcome = await player.play({ time: 0 });
    expect(outcome.state).toBe('finished');
    let worst = 0;
    for (let i = 1; i < sink.chunks.length; i++) {
      const prev = sink.chunks[i - 1]!;
      const jump = sink.chunks[i]!.startSample - (prev.startSample + prev.pcm.length);
      if (Math.abs(jump) > Math.abs(worst)) worst = jump;
    }
    expect(worst).toBe(0);
    expect(sink.samples().length).toBeGreaterThanOrEqual(3 * 48_000 - 2 * 11_520);
  });

  it('refuses a duration that is not one (exit 2)', async () => {
    for (const bad of ['0', '10x']) {
      const { code, stderr } = await runCapture(relay(), [
        '--input',
        'sine',
        '--duration',
        '1',
        '--rekey-every',
        bad,
      ]).done;
      expect([bad, code]).toEqual([bad, 2]);
      expect(stderr).toContain('--rekey-every must be a positive duration');
    }
  });
});

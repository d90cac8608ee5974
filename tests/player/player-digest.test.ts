/**
 * The player's `digest` event and fail() (docs/matrix.md "Checkpoints and completion"): every
 * authenticated block's seq and SHA-256 of its ciphertext with tag, in read order, for a check
 * against the sender's checkpoints while playing; and a check that fails ends playback with a
 * fatal TAMPERED at once, not at the end of the broadcast.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BLOCK_HEADER_SIZE } from '@mxcast/format';
import { MemorySink, Player, PlayerError, type PlayerError as PlayerErrorT } from '@mxcast/player';
import { encodeBroadcast, uploadFinished, useTestRelay } from './broadcast-fixture.ts';

const relay = useTestRelay();

describe('player digest event', () => {
  it('gives seq and sha256 of each block`s ciphertext, in order, equal to the stored bytes', async () => {
    const b = await encodeBroadcast('voice', 4);
    const up = await uploadFinished(relay, b);
    const player = new Player({
      relayUrl: relay.url,
      mxc: up.mxc,
      file: up.file,
      sink: new MemorySink(),
    });
    const seen: { seq: number; sha256: string }[] = [];
    player.on('digest', ({ seq, sha256 }) =>
      seen.push({ seq, sha256: Buffer.from(sha256).toString('hex') }),
    );
    expect((await player.play({ time: 0 })).state).toBe('finished');
    expect(seen.map((d) => d.seq)).toEqual(b.blocks.map((_, i) => i));
    seen.forEach((d, i) => {
      const ciphertext = b.blocks[i]!.subarray(BLOCK_HEADER_SIZE);
      expect(d.sha256).toBe(createHash('sha256').update(ciphertext).digest('hex'));
    });
  });

  it('fail() from a digest listener stops playback with a fatal TAMPERED right there', async () => {
    const b = await encodeBroadcast('voice', 6);
    const up = await uploadFinished(relay, b);
    const sink = new MemorySink();
    const player = new Player({ relayUrl: relay.url, mxc: up.mxc, file: up.file, sink });
    const errors: PlayerErrorT[] = [];
    player.on('error', (e) => errors.push(e));
    let last = -1;
    player.on('digest', ({ seq }) => {
      last = seq;
      if (seq === 6)
        player.fail(new PlayerError('TAMPERED', 'block 6 is not the sender`s', { fatal: true }));
    });
    const outcome = await player.play({ time: 0 });
    expect(outcome.state).toBe('error');
    expect(outcome.error?.code, outcome.error?.message).toBe('TAMPERED');
    expect(outcome.error?.fatal).toBe(true);
    expect(errors.map((e) => [e.code, e.fatal])).toEqual([['TAMPERED', true]]);
    // Stopped at the failing block, not at the end of the 6 s broadcast.
    expect(last).toBe(6);
    expect(b.blocks.length).toBeGreaterThan(20);
    expect(sink.samples().length / 48_000).toBeLessThan(2.5);
  });
});

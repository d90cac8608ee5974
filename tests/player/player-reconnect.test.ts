/**
 * Reconnect (docs/player.md "Reconnecting"): when the relay restarts under a live broadcast, the
 * player resumes from the block after the last one that authenticated (HTTP Range from its offset,
 * or WebSocket from=<seq>), with no gap and no repeat, and says so while it happens.
 */
import { describe, expect, it } from 'vitest';
import { MemorySink } from '@mxcast/player';
import { encodeBroadcast, startUpload, wait, useTestRelay, playerOf } from './broadcast-fixture.ts';

const relay = useTestRelay();

describe('reconnect across a relay restart', () => {
  it('loses nothing and repeats nothing, over HTTP and WebSocket', async () => {
    const b = await encodeBroadcast('voice', 4.8);
    const up = await startUpload(relay, b);
    up.send(4);
    const uploading = up.realtime(240);
    const listeners = (['http', 'ws'] as const).map((transport) => {
      const sink = new MemorySink();
      const seqs: number[] = [];
      const reconnecting: number[] = [];
      const player = playerOf(up, {
        sink,
        transport,
        geometry: b.geometry,
        reconnectDelayMs: 50,
      });
      player.on('block', ({ seq }) => seqs.push(seq));
      player.on('reconnecting', ({ fromSeq }) => reconnecting.push(fromSeq));
      return { transport, sink, seqs, reconnecting, player, done: player.play({ time: 0 }) };
    });
    await wait(1_500);
    await relay.restart(400);
    await up.resume();
    await uploading;
    for (const l of listeners) {
      const outcome = await l.done;
      expect(outcome.state, l.transport).toBe('finished');
      expect(l.reconnecting.length, l.transport).toBeGreaterThan(0);
      expect(l.player.status().reconnects).toBeGreaterThan(0);
      // every audio block exactly once, in order
      expect(l.seqs, l.transport).toEqual(
        Array.from({ length: b.blocks.length - 2 }, (_, i) => i + 2),
      );
      // and every sample of the broadcast, contiguous
      let at = 0;
      for (const c of l.sink.chunks) {
        expect(c.startSample).toBe(at);
        at += c.pcm.length;
      }
      expect(at).toBe((b.blocks.length - 2) * b.blockSamples - b.preSkip);
    }
  });
});

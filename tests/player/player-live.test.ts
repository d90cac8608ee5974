/**
 * Joining live (docs/player.md "Joining live"): a listener joining mid-broadcast starts within one
 * block of the live edge and keeps up for the rest of it, over HTTP (index + open-ended Range) and
 * over the relay's WebSocket (from=live&headers=1).
 */
import { describe, expect, it } from 'vitest';
import { MemorySink } from '@mxcast/player';
import { encodeBroadcast, startUpload, wait, useTestRelay, playerOf } from './broadcast-fixture.ts';

const relay = useTestRelay();

describe('live join', () => {
  it('starts within one block of the edge and keeps up, over HTTP and WebSocket', async () => {
    const b = await encodeBroadcast('voice', 4.8); // 20 audio blocks of 240 ms
    const up = await startUpload(relay, b);
    up.send(2);
    const sentAt = new Map<number, number>();
    const uploading = up.realtime(240, (seq) => sentAt.set(seq, performance.now()));
    await wait(1_500);
    const listeners = (['http', 'ws'] as const).map((transport) => {
      const sink = new MemorySink();
      const seqs: number[] = [];
      const lateness: number[] = [];
      const player = playerOf(up, {
        sink,
        transport,
        geometry: b.geometry,
      });
      player.on('block', ({ seq }) => {
        // the live edge when the player got its first block: the newest block uploaded then
        if (seqs.length === 0) listener.edgeAtFirst = up.sent - 1;
        seqs.push(seq);
        const sent = sentAt.get(seq);
        if (sent !== undefined) lateness.push(performance.now() - sent);
      });
      const listener = {
        transport,
        sink,
        seqs,
        lateness,
        player,
        edgeAtFirst: -1,
        done: player.play({ live: true }),
      };
      return listener;
    });
    await uploading;
    const endedAt = performance.now();
    for (const l of listeners) {
      const outcome = await l.done;
      expect(outcome.state, l.transport).toBe('finished');
      expect(performance.now() - endedAt).toBeLessThan(2_000);
      const first = l.seqs[0] as number;
      // within one block of the live edge: the newest block, or the one before it
      expect(first, l.transport).toBeGreaterThanOrEqual(l.edgeAtFirst - 1);
      expect(first, l.transport).toBeLessThanOrEqual(l.edgeAtFirst);
      expect(first, l.transport).toBeGreaterThan(2); // it did join mid-broadcast
      // every block from there to the end, in order, exactly once
      expect(l.seqs).toEqual(Array.from({ length: b.blocks.length - first }, (_, i) => first + i));
      // audio is contiguous from the first decoded sample to the end
      let at = l.sink.chunks[0]?.startSample as number;
      for (const c of l.sink.chunks) {
        expect(c.startSample).toBe(at);
        at += c.pcm.length;
      }
      // keeping up: each block decoded well within one block duration of its upload
      const sorted = [...l.lateness].sort((x, y) => x - y);
      expect(sorted[Math.floor(sorted.length / 2)], l.transport).toBeLessThan(240);
      expect(l.player.status().delayBehindLive).toBeLessThanOrEqual(0.5);
    }
  });
});

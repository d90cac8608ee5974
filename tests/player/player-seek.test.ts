/**
 * Seeking by time (docs/player.md "Seeking"): decoded audio from `from: T` matches the time-coded
 * source at T to within one Opus frame (20 ms = 960 samples), in a finished broadcast and in one
 * still being uploaded, with one Range request per seek once the header is known.
 */
import { describe, expect, it } from 'vitest';
import type { EncryptedFile } from '@mxcast/format';
import { MemorySink, Player, type PlayerOptions } from '@mxcast/player';
import {
  alignment,
  encodeBroadcast,
  startUpload,
  uploadFinished,
  useTestRelay,
  playerOf,
} from './broadcast-fixture.ts';

const relay = useTestRelay();

async function playFrom(
  mxc: string,
  file: EncryptedFile,
  from: number,
  seconds: number,
  extra: Partial<PlayerOptions> = {},
) {
  const sink = new MemorySink();
  const player = new Player({ relayUrl: relay.url, mxc, file, sink, duration: seconds, ...extra });
  const outcome = await player.play({ time: from });
  return { sink, player, outcome };
}

describe('seek in a finished broadcast', () => {
  it('starts at the exact sample and matches the source within one frame', async () => {
    const b = await encodeBroadcast('voice', 16);
    const up = await uploadFinished(relay, b);
    for (const t of [0, 0.37, 5, 11.111, 15.2]) {
      const { sink, outcome, player } = await playFrom(up.mxc, up.file, t, 0.3, {
        geometry: b.geometry,
      });
      expect(outcome.state).toBe('stopped');
      const target = Math.round(t * 48_000);
      expect(sink.chunks[0]?.startSample).toBe(target);
      const pcm = sink.samples();
      expect(pcm.length).toBe(Math.round(0.3 * 48_000));
      const { lag, correlation } = alignment(pcm, b.pcm, target);
      expect(correlation, `T=${t}`).toBeGreaterThan(0.4);
      expect(Math.abs(lag), `T=${t}: lag ${lag}`).toBeLessThanOrEqual(960);
      // header leg (from byte 0) + at most one Range request to the target
      expect(player.status().requests).toBeLessThanOrEqual(2);
    }
  });

  it('finds the geometry from the header and first audio block when none is declared', async () => {
    const b = await encodeBroadcast('music', 6);
    const up = await uploadFinished(relay, b);
    const { sink, outcome } = await playFrom(up.mxc, up.file, 4.321, 0.2);
    expect(outcome.state).toBe('stopped');
    expect(sink.chunks[0]?.startSample).toBe(Math.round(4.321 * 48_000));
    const { lag } = alignment(sink.samples(), b.pcm, Math.round(4.321 * 48_000));
    expect(Math.abs(lag)).toBeLessThanOrEqual(960);
  });

  it('moves on seek() while playing, with one request per seek', async () => {
    const b = await encodeBroadcast('voice', 17);
    const up = await uploadFinished(relay, b);
    const sink = new MemorySink();
    const player = playerOf(up, {
      sink,
      geometry: b.geometry,
      pace: true,
    });
    const done = player.play({ time: 1 });
    await new Promise<void>((resolve) =>
      player.on('state', ({ state }) => state === 'playing' && resolve()),
    );
    const before = player.status().requests;
    const reconnectsBefore = player.status().reconnects;
    const chunksBefore = sink.chunks.length;
    player.seek(15);
    await new Promise<void>((resolve) => {
      const off = player.on('status', () => {
        if (
          sink.chunks.length > chunksBefore &&
          (sink.chunks.at(-1)?.startSample ?? 0) >= 15 * 48_000
        ) {
          off();
          resolve();
        }
      });
    });
    // one Range request for the seek (a reconnect, should the loaded machine drop a connection,
    // costs an index request and a Range request of its own)
    const reconnects = player.status().reconnects - reconnectsBefore;
    expect(
      player.status().requests - before - 2 * reconnects,
      JSON.stringify(player.status()),
    ).toBe(1);
    const after = sink.chunks.find((c) => c.startSample >= 15 * 48_000);
    expect(
      after?.startSample,
      JSON.stringify(sink.chunks.map((c) => c.startSample).slice(-8)),
    ).toBe(15 * 48_000);
    player.stop();
    expect((await done).state).toBe('stopped');
  });
});

describe('seek in a broadcast still being uploaded', () => {
  it('plays from T inside what has been uploaded so far, within one frame', async () => {
    const b = await encodeBroadcast('voice', 12);
    const up = await startUpload(relay, b);
    up.send(Math.floor(b.blocks.length / 2)); // ~6 s uploaded, still live
    await new Promise((r) => setTimeout(r, 200));
    for (const t of [2.5, 4.77]) {
      const { sink, outcome } = await playFrom(up.mxc, up.file, t, 0.3, {
        geometry: b.geometry,
        transport: 'http',
      });
      expect(outcome.state).toBe('stopped');
      const target = Math.round(t * 48_000);
      expect(sink.chunks[0]?.startSample).toBe(target);
      const { lag, correlation } = alignment(sink.samples(), b.pcm, target);
      expect(correlation).toBeGreaterThan(0.4);
      expect(Math.abs(lag)).toBeLessThanOrEqual(960);
    }
    up.send(b.blocks.length);
    await up.end();
  });
});

describe('seek where block sizes vary', () => {
  it('bisects on granules (resyncing at each probe) and still starts at the exact sample', async () => {
    const b = await encodeBroadcast('voice', 8, { variableBlocks: true });
    const up = await uploadFinished(relay, b, { declareGeometry: false });
    for (const t of [0.2, 4.06, 7.5]) {
      const sink = new MemorySink();
      const player = playerOf(up, {
        sink,
        duration: 0.3,
      });
      const resyncs: number[] = [];
      player.on('resync', ({ to }) => resyncs.push(to));
      const outcome = await player.play({ time: t });
      expect(outcome.state).toBe('stopped');
      const target = Math.round(t * 48_000);
      expect(sink.chunks[0]?.startSample).toBe(target);
      const { lag } = alignment(sink.samples(), b.pcm, target);
      expect(Math.abs(lag), `T=${t}`).toBeLessThanOrEqual(960);
      if (t > 1)
        expect(
          player.status().resyncs,
          `T=${t} ${JSON.stringify(player.status())}`,
        ).toBeGreaterThan(0);
      // log2 of the blocks, not their number
      expect(player.status().requests).toBeLessThan(20);
    }
  });
});

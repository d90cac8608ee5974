/**
 * The player with an asynchronous decoder (the interface the web listener's WebCodecs
 * AudioDecoder implements; docs/web.md "Opus decoding"), against a real relay: opusscript behind
 * a decoder that answers each page later. The PCM must be the synchronous path's, sample for
 * sample, from the start and from a time (pre-skip and seek pre-roll trimmed the same way), and
 * a seek back while a page is being decoded must not let that stale page reach the sink.
 */
import { describe, expect, it } from 'vitest';
import { OpusPacketDecoder } from '@mxcast/audio';
import { MemorySink, Player, type AsyncPacketDecoder } from '@mxcast/player';
import { alignment, encodeBroadcast, uploadFinished, useTestRelay } from './broadcast-fixture.ts';

const relay = useTestRelay();

/** opusscript, answering each page after `delayMs` (as WebCodecs answers on its own thread). */
function laterDecoder(delayMs: number, counter: { pages: number }) {
  return (channels: number): AsyncPacketDecoder => {
    let inner = new OpusPacketDecoder({ channels });
    return {
      decodePackets: (packets) => {
        const pcm = packets.map((p) => inner.decode(p));
        counter.pages++;
        return new Promise((resolve) => setTimeout(() => resolve(pcm), delayMs));
      },
      reset: () => {
        inner.destroy();
        inner = new OpusPacketDecoder({ channels });
      },
      destroy: () => inner.destroy(),
    };
  };
}

async function playAll(
  up: Awaited<ReturnType<typeof uploadFinished>>,
  time: number,
  createDecoder?: ReturnType<typeof laterDecoder>,
): Promise<MemorySink> {
  const sink = new MemorySink();
  const player = new Player({
    relayUrl: relay.url,
    mxc: up.mxc,
    file: up.file,
    sink,
    ...(createDecoder ? { createDecoder } : {}),
  });
  expect((await player.play({ time })).state).toBe('finished');
  return sink;
}

describe('player with an asynchronous decoder', () => {
  it('gives the synchronous path`s PCM exactly, from the start and from 2.37 s', async () => {
    const b = await encodeBroadcast('voice', 4);
    const up = await uploadFinished(relay, b);
    for (const time of [0, 2.37]) {
      const counter = { pages: 0 };
      const sync = (await playAll(up, time)).samples();
      const later = await playAll(up, time, laterDecoder(3, counter));
      expect(counter.pages).toBeGreaterThan(3);
      expect(later.chunks[0]?.startSample).toBe(Math.round(time * 48_000));
      expect(later.samples().length).toBe(sync.length);
      expect(Buffer.from(later.samples().buffer).equals(Buffer.from(sync.buffer))).toBe(true);
    }
  });

  it('a seek back while a page is decoding: that page never reaches the sink', async () => {
    const b = await encodeBroadcast('voice', 6);
    const up = await uploadFinished(relay, b);
    // Backwards: the stale page (from 3.5 s on) lies after the target, so only dropping it —
    // not the pre-roll trimming — keeps it out.
    const target = 0.61;
    const expected = (await playAll(up, target)).samples();
    const sink = new MemorySink();
    const counter = { pages: 0 };
    const player = new Player({
      relayUrl: relay.url,
      mxc: up.mxc,
      file: up.file,
      sink,
      createDecoder: laterDecoder(40, counter),
    });
    const done = player.play({ time: 3.5 });
    // Seek in the middle of the third audio page's decode (each takes 40 ms).
    while (counter.pages < 3) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 15));
    const before = sink.chunks.length;
    player.seek(target);
    expect((await done).state).toBe('finished');
    const after = sink.chunks.slice(before);
    // The first chunk after the seek is the target's, and the chunks run on without a gap: the
    // page in flight (from past 3.5 s) was dropped.
    expect(after.length).toBeGreaterThan(0);
    expect(after[0]?.startSample).toBe(Math.round(target * 48_000));
    after
      .slice(1)
      .forEach((c, i) => expect(c.startSample).toBe(after[i]!.startSample + after[i]!.pcm.length));
    const got = new Int16Array(after.reduce((n, c) => n + c.pcm.length, 0));
    let written = 0;
    for (const c of after) {
      got.set(c.pcm, written);
      written += c.pcm.length;
    }
    expect(got.length).toBe(expected.length);
    // Audio from the target on, at the target and 2 s later (the fixture's time-coded signal;
    // SILK at 32 kbit/s keeps the timing, not the waveform, so not a bit-exact comparison: the
    // reference started with another pre-roll history).
    const at = Math.round(target * 48_000);
    for (const offset of [0, 96_000]) {
      const { lag, correlation } = alignment(got.subarray(offset), b.pcm, at + offset);
      expect(correlation).toBeGreaterThan(0.4);
      expect(Math.abs(lag)).toBeLessThanOrEqual(960);
    }
  });
});

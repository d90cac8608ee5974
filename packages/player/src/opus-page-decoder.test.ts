import { describe, expect, it } from 'vitest';
import {
  OpusPageDecoder,
  type AsyncPacketDecoder,
  type PacketDecoder,
  type PcmChunk,
} from './opus-page-decoder.ts';

/** A stand-in decoder whose output counts samples, so every trim is visible in the values. */
function countingDecoder(): PacketDecoder {
  let n = 0;
  return { decode: () => Int16Array.from({ length: 960 }, () => n++ % 30000) };
}

/** The same counting output, answered later (as WebCodecs does), with a reset for seeks. */
function asyncCountingDecoder(log: string[] = []): AsyncPacketDecoder {
  let n = 0;
  let pending: Array<() => void> = [];
  return {
    decodePackets: (packets) =>
      new Promise((resolve, reject) => {
        const parts = packets.map(() => Int16Array.from({ length: 960 }, () => n++ % 30000));
        pending.push(() => reject(new Error('AbortError')));
        setTimeout(() => resolve(parts), 5);
      }),
    reset: () => {
      log.push('reset');
      n = 0;
      for (const abort of pending) abort();
      pending = [];
    },
  };
}

/** The synchronous path answers at once: no promise. */
function now(out: PcmChunk | null | Promise<PcmChunk | null>): PcmChunk | null {
  if (out instanceof Promise) throw new Error('a synchronous decoder answered with a promise');
  return out;
}

const packet = new Uint8Array(10);

describe('OpusPageDecoder', () => {
  it('drops the pre-skip at the start (RFC 7845 §4.2)', () => {
    const d = new OpusPageDecoder({ channels: 1, preSkip: 312, createDecoder: countingDecoder });
    const out = now(d.decodePage(2, [packet, packet], 1920n, false));
    expect(out?.startSample).toBe(0);
    expect(out?.pcm.length).toBe(1920 - 312);
    expect(out?.pcm[0]).toBe(312);
  });

  it('discards the pre-roll and starts at the exact target sample after a seek', () => {
    const d = new OpusPageDecoder({ channels: 1, preSkip: 312, createDecoder: countingDecoder });
    d.restart(10_000);
    // block covering granules 9600..11520 (output samples 9288..11208)
    const out = now(d.decodePage(12, [packet, packet], 11_520n, false));
    expect(out?.startSample).toBe(10_000);
    expect(out?.pcm.length).toBe(11_208 - 10_000);
    expect(out?.pcm[0]).toBe(10_000 - 9288);
    expect(now(d.decodePage(13, [packet], 12_480n, false))?.startSample).toBe(11_208);
  });

  it('cuts the end of the EOS page to its granule (RFC 7845 §4.4)', () => {
    const d = new OpusPageDecoder({ channels: 1, preSkip: 0, createDecoder: countingDecoder });
    now(d.decodePage(2, [packet], 960n, false));
    const last = now(d.decodePage(3, [packet], 960n + 500n, true));
    expect(last?.startSample).toBe(960);
    expect(last?.pcm.length).toBe(500);
  });
});

describe('OpusPageDecoder with an asynchronous decoder', () => {
  it('trims the pre-skip, the pre-roll and the EOS end exactly as the synchronous path', async () => {
    const d = new OpusPageDecoder({
      channels: 1,
      preSkip: 312,
      createDecoder: () => asyncCountingDecoder(),
    });
    const first = await d.decodePage(2, [packet, packet], 1920n, false);
    expect(first?.startSample).toBe(0);
    expect(first?.pcm.length).toBe(1920 - 312);
    expect(first?.pcm[0]).toBe(312);
    d.restart(10_000);
    const seeked = await d.decodePage(12, [packet, packet], 11_520n, false);
    expect(seeked?.startSample).toBe(10_000);
    expect(seeked?.pcm[0]).toBe(10_000 - 9288);
    const last = await d.decodePage(13, [packet], 11_520n + 500n, true);
    expect(last?.startSample).toBe(11_208);
    expect(last?.pcm.length).toBe(500);
  });

  it('hands the OpusHead to the factory and resets (not recreates) it on a seek', async () => {
    const log: string[] = [];
    let created = 0;
    const head = {
      version: 1,
      channels: 2,
      preSkip: 312,
      inputSampleRate: 48000,
      outputGain: 0,
      mappingFamily: 0,
    };
    const d = new OpusPageDecoder({
      channels: 2,
      preSkip: 312,
      head,
      createDecoder: (channels, h) => {
        created++;
        log.push(`create ${channels} ${h?.preSkip}`);
        return asyncCountingDecoder(log);
      },
    });
    d.restart(0);
    d.restart(5000);
    expect(created).toBe(1);
    expect(log).toEqual(['create 2 312', 'reset', 'reset']);
  });

  it('a page in flight when a seek resets the decoder yields nothing, not an error', async () => {
    const d = new OpusPageDecoder({
      channels: 1,
      preSkip: 0,
      createDecoder: () => asyncCountingDecoder(),
    });
    const inFlight = d.decodePage(5, [packet], 4800n, false);
    d.restart(20_000);
    await expect(inFlight).resolves.toBeNull();
    // The next page after the seek is placed from its own granule, not the stale one.
    const after = await d.decodePage(22, [packet], 21_120n, false);
    expect(after?.startSample).toBe(20_160);
  });

  it('a decode that fails with no seek is BAD_STREAM naming the block', async () => {
    const d = new OpusPageDecoder({
      channels: 1,
      preSkip: 0,
      createDecoder: () => ({ decodePackets: () => Promise.reject(new Error('corrupt')) }),
    });
    await expect(d.decodePage(7, [packet], 960n, false)).rejects.toMatchObject({
      code: 'BAD_STREAM',
      message: expect.stringContaining('block 7'),
    });
  });
});

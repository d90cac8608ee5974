/**
 * EpochRekeyer (docs/format.md "Key epochs", announce ahead): the header epoch's end fixed at an
 * exact seq, and the lead that grows to twice the slowest announcement.
 */
import { describe, expect, it } from 'vitest';
import { createScheduleCipher, generateEpoch, KeySchedule } from './index.ts';
import { EpochRekeyer } from './epoch-rekeyer.ts';

describe('EpochRekeyer', () => {
  it('commitAt fixes an epoch at exactly that seq, and is refused once a block there is sealed', async () => {
    const cipher = await createScheduleCipher(new KeySchedule([generateEpoch(0)]));
    let next = 2;
    const rekeyer = new EpochRekeyer({ cipher, nextSeq: () => next, leadBlocks: 6 });
    const header = await rekeyer.commitAt(2);
    expect(header.startSeq).toBe(2);
    expect(cipher.schedule.epochs.map((e) => e.startSeq)).toEqual([0, 2]);
    // The blocks up to 9 sealed: an epoch at 9 would re-key a sealed block.
    for (let s = 0; s <= 9; s++) await cipher.encrypt(s, new Uint8Array(4));
    next = 10;
    await expect(rekeyer.commitAt(9)).rejects.toThrow();
    // An ordinary rekey still works after the refusal: next + lead.
    expect((await rekeyer.commit()).startSeq).toBe(16);
  });

  it('the lead grows to twice the slowest announcement, never below the configured one', async () => {
    const cipher = await createScheduleCipher(new KeySchedule([generateEpoch(0)]));
    let next = 2;
    const seen: number[] = [];
    let delay = 0;
    const rekeyer = new EpochRekeyer({
      cipher,
      nextSeq: () => next,
      leadBlocks: 2,
      blockMs: 20,
      // A fast homeserver answers at once (no timer: on a loaded machine even a 0 ms timer can
      // fire 20 ms late, one block, and grow the lead); a slow one after `delay`.
      onEpoch: () => (delay === 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, delay))),
      onAnnounced: (a) => seen.push(a.marginBlocks),
    });
    expect(rekeyer.leadBlocks).toBe(2);
    await rekeyer.rekey();
    expect(rekeyer.leadBlocks).toBe(2);
    delay = 120; // a slow homeserver: 120 ms = 6 blocks of 20 ms
    await rekeyer.rekey();
    const slow = rekeyer.announcements[1]!.ms;
    expect(slow).toBeGreaterThanOrEqual(115);
    expect(rekeyer.leadBlocks).toBe(Math.ceil((2 * slow) / 20));
    next = 100;
    expect((await rekeyer.commit()).startSeq).toBe(100 + rekeyer.leadBlocks);
    expect(seen.length).toBe(2);
  });
});

/**
 * firstHeldSeq: where a live join may start when the key source withholds part of the
 * broadcast (a `joined` newcomer, docs/matrix.md "Key epochs"). The waits are checked against a
 * real relay in tests/player/player-live-key-start.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { generateEpoch } from '@mxcast/format';
import { EpochKeyRing, type EpochKeys } from './epoch-keys.ts';
import { firstHeldSeq, withholdsAny } from './live-key-start.ts';

/** A newcomer's ring: header 0–1, withheld from 2, its own epochs from `own` on. */
function newcomer(...own: number[]): EpochKeyRing {
  const ring = new EpochKeyRing([generateEpoch(0)]);
  ring.withhold(2, 'sent before you joined');
  for (const s of own) ring.add(generateEpoch(s));
  return ring;
}

describe('firstHeldSeq', () => {
  it('is the seq itself where nothing is withheld', () => {
    const ring = new EpochKeyRing([generateEpoch(0), generateEpoch(2), generateEpoch(40)]);
    for (const seq of [0, 2, 39, 40, 500]) expect(firstHeldSeq(ring, seq)).toBe(seq);
    expect(withholdsAny(ring)).toBe(false);
    // A key source without withheld() at all (a plain EpochKeys).
    const plain: EpochKeys = { epochs: ring.epochs, lostAccess: undefined, changed: ring.changed };
    expect(firstHeldSeq(plain, 7)).toBe(7);
    expect(withholdsAny(plain)).toBe(false);
  });

  it("moves a start in the withheld stretch to the newcomer's first epoch, ahead of the edge", () => {
    const ring = newcomer(120, 150);
    expect(withholdsAny(ring)).toBe(true);
    expect(firstHeldSeq(ring, 2)).toBe(120);
    expect(firstHeldSeq(ring, 117)).toBe(120);
    expect(firstHeldSeq(ring, 119)).toBe(120);
    // At or past it: the edge itself.
    expect(firstHeldSeq(ring, 120)).toBe(120);
    expect(firstHeldSeq(ring, 133)).toBe(133);
    expect(firstHeldSeq(ring, 151)).toBe(151);
    // The header blocks are held (the header epoch opens them).
    expect(firstHeldSeq(ring, 1)).toBe(1);
  });

  it("is undefined while the newcomer's own epoch is not known yet, then follows the ring", () => {
    const ring = newcomer();
    expect(firstHeldSeq(ring, 50)).toBeUndefined();
    ring.add(generateEpoch(64));
    expect(firstHeldSeq(ring, 50)).toBe(64);
  });
});

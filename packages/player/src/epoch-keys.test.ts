/**
 * EpochKeyRing: the key source a player reads epochs from (docs/player.md "Key epochs").
 */
import { describe, expect, it } from 'vitest';
import { generateEncryptedFile, generateEpoch, isFormatError } from '@mxcast/format';
import { EpochKeyRing } from './epoch-keys.ts';

describe('EpochKeyRing', () => {
  it('starts from an EncryptedFile as epoch 0 and grows at its end only', () => {
    const file = generateEncryptedFile();
    const ring = new EpochKeyRing(file);
    expect(ring.epochs).toEqual([{ startSeq: 0, key: file.key, iv: file.iv }]);
    const e9 = generateEpoch(9);
    ring.add(e9);
    ring.add({ ...e9 }); // the same epoch twice (two syncs): ignored
    expect(ring.epochs.map((e) => e.startSeq)).toEqual([0, 9]);
    let err: unknown;
    try {
      ring.add(generateEpoch(5)); // before the last: the schedule only grows at its end
    } catch (e) {
      err = e;
    }
    expect(isFormatError(err, 'BAD_KEY_SCHEDULE')).toBe(true);
    // A different key at a known start is refused too, not silently replaced.
    expect(() => ring.add({ ...generateEpoch(9) })).toThrow();
  });

  it('changed() resolves on a new epoch, on lost access, on abort; at once once access is lost', async () => {
    const ring = new EpochKeyRing([generateEpoch(0)]);
    const log: string[] = [];
    const a = ring.changed().then(() => log.push('a'));
    ring.add(generateEpoch(3));
    await a;
    const abort = new AbortController();
    const b = ring.changed(abort.signal).then(() => log.push('b'));
    abort.abort();
    await b;
    const c = ring.changed().then(() => log.push('c'));
    ring.loseAccess('kicked');
    ring.loseAccess('left'); // the first reason stays
    await c;
    await ring.changed();
    expect(log).toEqual(['a', 'b', 'c']);
    expect(ring.lostAccess).toBe('kicked');
  });
});

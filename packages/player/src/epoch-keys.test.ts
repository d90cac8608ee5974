/**
 * EpochKeyRing: the key source a player reads epochs from (docs/player.md "Key epochs").
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  BlockFramer,
  createScheduleCipher,
  encodeBlock,
  generateEncryptedFile,
  generateEpoch,
  isFormatError,
  KeySchedule,
  type BlockCipher,
} from '@mxcast/format';
import { BlockAuthenticator } from './block-authenticator.ts';
import type { SourceBlock } from './block-source.ts';
import { EpochKeyRing, keysChanged } from './epoch-keys.ts';
import { PlayerError } from './player-error.ts';

async function sealed(cipher: BlockCipher, seq: number): Promise<SourceBlock> {
  const bytes = encodeBlock(seq, await cipher.encrypt(seq, new TextEncoder().encode(`b${seq}`)));
  const [framed] = new BlockFramer({ expectMagic: false }).push(bytes);
  if (!framed) throw new Error('no block');
  return { seq, offset: null, size: bytes.length, ciphertext: framed.ciphertext, byteOrder: 'be' };
}

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

  it("a withheld epoch (a joined newcomer's past): headers open, its blocks say NO_ACCESS, the join's epoch opens", async () => {
    // The broadcaster's schedule: header epoch [0, 2), epoch 1 at 2, the join's epoch at 7.
    const header = generateEpoch(0);
    const e1 = generateEpoch(2);
    const join = generateEpoch(7);
    const sender = await createScheduleCipher(new KeySchedule([header, e1, join]));
    // The newcomer: the header epoch, the stand-in for what it was not given, its join's epoch.
    const ring = new EpochKeyRing([header]);
    ring.withhold(2, 'it was sent before you joined');
    ring.add(join);
    expect(ring.withheld(2)).toBe('it was sent before you joined');
    expect(ring.withheld(7)).toBeUndefined();
    expect(ring.epochs.map((e) => e.startSeq)).toEqual([0, 2, 7]);
    // From the start: blocks 0 and 1 open; block 2 is NO_ACCESS with the reason, not TAMPERED.
    const auth = new BlockAuthenticator(await createScheduleCipher(new KeySchedule(ring.epochs)), {
      keys: ring,
      keyWaitMs: 50,
    });
    for (const seq of [0, 1]) await auth.open(await sealed(sender, seq));
    let err: unknown;
    try {
      await auth.open(await sealed(sender, 2));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlayerError);
    expect((err as PlayerError).code).toBe('NO_ACCESS');
    expect((err as Error).message).toMatch(
      /no access to this part of the broadcast \(it was sent before you joined\)/,
    );

    // Live from the join: the headers, then a jump to the join's epoch, which opens.
    const live = new BlockAuthenticator(await createScheduleCipher(new KeySchedule(ring.epochs)), {
      keys: ring,
    });
    for (const seq of [0, 1]) await live.open(await sealed(sender, seq));
    live.allowJump(8);
    const pt = await live.open(await sealed(sender, 8));
    expect(new TextDecoder().decode(pt)).toBe('b8');
  });
});

describe('keysChanged', () => {
  it('ends at the timeout, at a change, or when the signal aborts, whichever is first', async () => {
    const ring = new EpochKeyRing([generateEpoch(0)]);
    let t0 = performance.now();
    await keysChanged(ring, 50);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);

    t0 = performance.now();
    setTimeout(() => ring.add(generateEpoch(10)), 20);
    await keysChanged(ring, 5000);
    expect(performance.now() - t0).toBeLessThan(2000);

    const stop = new AbortController();
    t0 = performance.now();
    setTimeout(() => stop.abort(), 20);
    await keysChanged(ring, 5000, stop.signal);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('still ends at its timeout when the collector runs during the wait', async () => {
    // The failure it replaces (nodejs/node#57736): a timeout signal that is only a source of
    // AbortSignal.any could be collected, and the wait never ended.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const ring = new EpochKeyRing([generateEpoch(0)]);
    const stop = new AbortController();
    const waits = Array.from({ length: 20 }, () => keysChanged(ring, 100, stop.signal));
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    const t0 = performance.now();
    await Promise.all(waits);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

import { describe, expect, it } from 'vitest';
import { generateEncryptedFile } from '@mxcast/format';
import {
  EpochSet,
  epochContent,
  parseEpoch,
  parseRekeyRequest,
  type KeyEpoch,
} from './epoch-events.ts';

function epoch(index: number, startSeq: number): KeyEpoch {
  const f = generateEncryptedFile();
  return { index, startSeq, key: f.key, iv: f.iv };
}

describe('epoch events', () => {
  it('round-trips an epoch through its content', () => {
    const e = epoch(3, 120);
    const content = JSON.parse(JSON.stringify(epochContent('bcast', e, 'membership')));
    expect(content.reason).toBe('membership');
    expect(parseEpoch(content)).toEqual({ broadcastId: 'bcast', epoch: e });
  });

  it('refuses a bad key, index or start without echoing the key', () => {
    const e = epoch(1, 10);
    const good = epochContent('b', e, 'schedule');
    const shortKey = { ...good, key: { ...e.key, k: 'AAAA' } };
    expect(() => parseEpoch(shortKey)).toThrow(/epoch key: .*key\.k/);
    try {
      parseEpoch({ ...good, iv: 'x' });
    } catch (err) {
      expect((err as Error).message).not.toContain(e.key.k);
    }
    expect(() => parseEpoch({ ...good, epoch: 0 })).toThrow(/field epoch/);
    expect(() => parseEpoch({ ...good, start_seq: 0 })).toThrow(/start_seq/);
    expect(() => parseEpoch({ ...good, broadcast_id: '' })).toThrow(/broadcast_id/);
    expect(() => parseRekeyRequest({})).toThrow(/broadcast_id/);
    expect(parseRekeyRequest({ broadcast_id: 'b' })).toEqual({ broadcastId: 'b' });
  });

  it('EpochSet: the covering epoch, never an older key across a gap', () => {
    const s = new EpochSet();
    const [e0, e1, e2, e3] = [epoch(0, 0), epoch(1, 50), epoch(2, 100), epoch(3, 150)];
    s.add(e0);
    s.add(e2);
    // Epoch 1 is missing: it starts somewhere in 1..99, so no key there rather than epoch 0's.
    expect(s.covering(10)).toBeUndefined();
    expect(s.covering(60)).toBeUndefined();
    expect(s.covering(120)).toBe(e2);
    s.add(e1);
    expect(s.covering(10)).toBe(e0);
    expect(s.covering(60)).toBe(e1);
    expect(s.add(e1)).toBe(false);
    expect(() => s.add({ ...e1, key: e3.key })).toThrow(/two different keys/);
    expect(() => s.add({ ...e3, startSeq: 70 })).toThrow(/contradicts/);
    s.add(e3);
    expect(s.list().map((e) => e.index)).toEqual([0, 1, 2, 3]);
    expect(s.covering(1e6)).toBe(e3);
  });
});

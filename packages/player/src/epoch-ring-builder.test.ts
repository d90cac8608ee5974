/**
 * ringFromFeed: the one builder of a room listener's EpochKeyRing (docs/matrix.md "Key
 * epochs"), fed here by a feed of the shape @mxcast/matrix's feedEpochKeys has, driven by hand.
 */
import { describe, expect, it } from 'vitest';
import { generateEpoch, type Epoch } from '@mxcast/format';
import {
  JOINED_WITHHELD_REASON,
  ringFromFeed,
  type EpochFeedSink,
  type FedEpoch,
} from './epoch-ring-builder.ts';

/**
 * A feed that delivers `first` through the sink while it starts (as feedEpochKeys does with the
 * epochs it reads first, index 0 listed but not fed), runs `during` before it resolves, and
 * keeps the sink for later deliveries.
 */
function feedOf(first: FedEpoch[], during: (sink: EpochFeedSink) => void = () => {}) {
  const handle: { sink?: EpochFeedSink; stopped: boolean } = { stopped: false };
  const open = async (sink: EpochFeedSink) => {
    handle.sink = sink;
    for (const e of first) if (e.index > 0) sink.add(e);
    during(sink);
    await Promise.resolve();
    return {
      epochs: first,
      stop: () => void (handle.stopped = true),
    };
  };
  return { open, handle };
}

function fed(index: number, startSeq: number, endSeq?: number): FedEpoch {
  const e = generateEpoch(startSeq);
  return { index, ...e, ...(endSeq !== undefined ? { endSeq } : {}) };
}

const starts = (epochs: readonly Epoch[]) => epochs.map((e) => e.startSeq);

describe('ringFromFeed', () => {
  it('holds every epoch the feed knows at start, epoch 0 first, then those that arrive', async () => {
    const zero = fed(0, 0);
    const one = fed(1, 2);
    const two = fed(2, 30);
    const notices: string[] = [];
    const { open, handle } = feedOf([zero, one, two]);
    const { keys, feed } = await ringFromFeed(open, (t) => notices.push(t));
    expect(keys.epochs[0]).toEqual({ startSeq: 0, key: zero.key, iv: zero.iv });
    expect(starts(keys.epochs)).toEqual([0, 2, 30]);
    expect(keys.withheld(2)).toBeUndefined();
    // The early ones are counted, not announced one by one.
    expect(notices).toEqual(['3 key epoch(s) held']);
    const three = fed(3, 55);
    handle.sink?.add(three);
    expect(starts(keys.epochs)).toEqual([0, 2, 30, 55]);
    expect(keys.epochs[3]?.key).toEqual(three.key);
    expect(notices.at(-1)).toBe('key epoch from block 55');
    feed.stop();
    expect(handle.stopped).toBe(true);
  });

  it('an epoch delivered while the ring is being made (after the feed listed its own) is kept', async () => {
    const zero = fed(0, 0);
    const late = fed(4, 80);
    const { open } = feedOf([zero, fed(1, 2)], (sink) => sink.add(late));
    const { keys } = await ringFromFeed(open, () => {});
    expect(starts(keys.epochs)).toEqual([0, 2, 80]);
    expect(keys.epochs[2]?.key).toEqual(late.key);
  });

  it("a joined newcomer's header epoch: the stretch from its end to the newcomer's first is withheld", async () => {
    const header = fed(0, 0, 2);
    const own = fed(5, 120);
    const notices: string[] = [];
    const { open } = feedOf([header, own]);
    const { keys } = await ringFromFeed(open, (t) => notices.push(t));
    expect(notices).toEqual([
      '3 key epoch(s) held',
      'blocks 2-119 were sent before you joined: a live listen starts at block 120 at the earliest',
    ]);
    expect(starts(keys.epochs)).toEqual([0, 2, 120]);
    expect(keys.epochs[0]?.key).toEqual(header.key);
    expect(keys.withheld(2)).toBe(JOINED_WITHHELD_REASON);
    expect(keys.withheld(0)).toBeUndefined();
    expect(keys.withheld(120)).toBeUndefined();
    // The stand-in for the withheld stretch is no key the listener was given.
    const standIn = keys.epochs[1];
    expect(standIn?.key.k).not.toBe(header.key.k);
    expect(standIn?.key.k).not.toBe(own.key.k);
  });

  it('a header epoch alone: the listener is told it waits for its first epoch', async () => {
    const notices: string[] = [];
    const { keys } = await ringFromFeed(feedOf([fed(0, 0, 2)]).open, (t) => notices.push(t));
    expect(keys.withheld(2)).toBe(JOINED_WITHHELD_REASON);
    expect(notices.at(-1)).toBe(
      'blocks from 2 on were sent before you joined: waiting for your first key epoch',
    );
  });

  it('a header epoch whose end is an epoch the listener holds withholds nothing', async () => {
    const { open } = feedOf([fed(0, 0, 2), fed(1, 2), fed(2, 40)]);
    const { keys } = await ringFromFeed(open, () => {});
    expect(starts(keys.epochs)).toEqual([0, 2, 40]);
    expect(keys.epochs.every((e) => keys.withheld(e.startSeq) === undefined)).toBe(true);
  });

  it('without epoch 0 a random key stands in at 0: nothing before the first epoch opens', async () => {
    const own = fed(3, 60);
    const a = await ringFromFeed(feedOf([own]).open, () => {});
    const b = await ringFromFeed(feedOf([own]).open, () => {});
    expect(starts(a.keys.epochs)).toEqual([0, 60]);
    expect(a.keys.epochs[0]?.key.k).not.toBe(b.keys.epochs[0]?.key.k);
    expect(a.keys.epochs[0]?.key.k).not.toBe(own.key.k);
    expect(a.keys.withheld(0)).toBeUndefined();
  });

  it('access lost while the ring is being made is reported once it exists', async () => {
    const notices: string[] = [];
    const { open } = feedOf([fed(0, 0), fed(1, 2)], (sink) => {
      sink.loseAccess('you left or were removed from the room');
      sink.loseAccess('a second reason');
    });
    const { keys } = await ringFromFeed(open, (t) => notices.push(t));
    expect(keys.lostAccess).toBe('you left or were removed from the room');
    expect(notices[0]).toBe('no access: you left or were removed from the room');
    // changed() resolves at once once access is lost.
    await keys.changed();
  });

  it('access lost later wakes a waiter', async () => {
    const { open, handle } = feedOf([fed(0, 0)]);
    const { keys } = await ringFromFeed(open, () => {});
    expect(keys.lostAccess).toBeUndefined();
    const woke = keys.changed().then(() => keys.lostAccess);
    handle.sink?.loseAccess('you were banned from the room');
    expect(await woke).toBe('you were banned from the room');
  });

  it('an early epoch out of order is refused with a notice, not thrown; a live one throws to the feed', async () => {
    const notices: string[] = [];
    // Two events in one sync delivered highest first: the schedule only grows at its end.
    const { open, handle } = feedOf([fed(0, 0), fed(2, 40), fed(1, 2)]);
    const { keys } = await ringFromFeed(open, (t) => notices.push(t));
    expect(starts(keys.epochs)).toEqual([0, 40]);
    expect(notices.some((t) => t.startsWith('key epochs: '))).toBe(true);
    // Live, the feed catches what add throws and reports it (feedEpochKeys's onError).
    expect(() => handle.sink?.add(generateEpoch(10))).toThrow();
    expect(starts(keys.epochs)).toEqual([0, 40]);
    // The same epoch twice (two syncs) is no error.
    handle.sink?.add(keys.epochs[1] as Epoch);
    expect(starts(keys.epochs)).toEqual([0, 40]);
  });
});

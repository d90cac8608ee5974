/**
 * Live before history (live-first.ts): while a hub's sliced fan-out is under way, a history
 * reader's turn (its next file read, its next write) waits until every listener has the block;
 * with no fan-out under way it goes at once; and a fan-out that never ends holds history back
 * for MAX_WAIT_MS at most.
 */
import { describe, expect, it } from 'vitest';
import { HistoryBudget } from './history-budget.ts';
import { HistoryPacer } from './history-pacer.ts';
import {
  LARGE_STEP_BYTES,
  LiveFirstGate,
  liveFirst,
  MAX_WAIT_MS,
  STEPS_PER_TURN,
} from './live-first.ts';
import { MediaHub, type HubListener } from './media-hub.ts';
import { makeSharedBlock, type SharedBlock } from './shared-block.ts';

const block = (seq: number) => makeSharedBlock(seq, seq * 10, new Uint8Array(10).fill(seq));
const turn = () => new Promise((r) => setImmediate(r));

/** Listeners that note, for each block, how many had it when history got its turn. */
function listeners(count: number): { got: number[]; all: HubListener[] } {
  const got = Array.from({ length: count }, () => 0);
  const all = got.map((_, i): HubListener => ({
    onBlock: (b: SharedBlock) => void (got[i] = b.seq + 1),
    onEnd: () => {},
  }));
  return { got, all };
}

describe('live first', () => {
  it('a history turn waits for a sliced fan-out to reach every listener', async () => {
    const hub = new MediaHub(4);
    const { got, all } = listeners(20);
    for (const l of all) hub.add(l);
    hub.publish(block(0));
    expect(liveFirst.live).toBe(true);
    expect(got.filter((n) => n === 1)).toHaveLength(4); // one slice so far
    let seenAtTurn: number[] = [];
    const waited = liveFirst.turn(0).then(() => (seenAtTurn = [...got]));
    // The other slices run on later turns; history must not go between them.
    for (let i = 0; i < 3; i++) {
      await turn();
      expect(seenAtTurn).toEqual([]);
    }
    await waited;
    expect(seenAtTurn.every((n) => n === 1)).toBe(true);
    expect(liveFirst.live).toBe(false);
    expect(liveFirst.waiting).toBe(0);
  });

  it('goes at once when no fan-out is under way', async () => {
    const hub = new MediaHub(4);
    const { all } = listeners(3);
    for (const l of all) hub.add(l);
    hub.publish(block(0)); // fits one slice: over within publish
    expect(liveFirst.live).toBe(false);
    await turn(); // a fresh event-loop turn: the last test's steps are not counted here
    let went = false;
    void liveFirst.turn(0).then(() => (went = true));
    await Promise.resolve();
    expect(went).toBe(true);
  });

  it('lets one large history step go per event-loop turn, the next after the loop polled for I/O', async () => {
    expect(STEPS_PER_TURN).toBe(1);
    const gate = new LiveFirstGate();
    await turn();
    const order: string[] = [];
    const steps = [0, 1, 2].map((i) =>
      gate.turn(LARGE_STEP_BYTES).then(() => order.push(`step ${i}`)),
    );
    await Promise.resolve();
    expect(order).toEqual(['step 0']);
    expect(gate.waiting).toBe(2);
    await turn(); // one check phase: one more step
    expect(order).toEqual(['step 0', 'step 1']);
    await turn();
    await Promise.all(steps);
    expect(order).toEqual(['step 0', 'step 1', 'step 2']);
    expect(gate.waiting).toBe(0);
  });

  it('lets small steps (listeners near the live edge catching up) go together', async () => {
    const gate = new LiveFirstGate();
    await turn();
    let went = 0;
    const large = gate.turn(LARGE_STEP_BYTES);
    const small = Array.from({ length: 50 }, () =>
      gate.turn(LARGE_STEP_BYTES - 1).then(() => went++),
    );
    await large;
    await turn(); // one check phase: every small one, however many
    await Promise.all(small);
    expect(went).toBe(50);
    expect(gate.waiting).toBe(0);
  });

  it("a history reader's reservation resolves only after the fan-out under way", async () => {
    const pacer = new HistoryPacer({
      budget: new HistoryBudget(1024 ** 2),
      readBytes: 64 * 1024,
      stallMs: 10_000,
      onStalled: () => {},
      readingAfterBytes: Infinity,
    });
    const hub = new MediaHub(2);
    const { got, all } = listeners(10);
    for (const l of all) hub.add(l);
    hub.publish(block(0));
    hub.publish(block(1));
    const granted = await pacer.reserve(4096, 65536);
    expect(granted).toBe(65536);
    // Both blocks reached every listener before the reader may read its file.
    expect(got.every((n) => n === 2)).toBe(true);
    pacer.close();
  });

  it('a fan-out that never ends holds history back for MAX_WAIT_MS at most', async () => {
    const gate = new LiveFirstGate();
    gate.begin(); // and never end()
    const t0 = performance.now();
    await Promise.all([gate.turn(0), gate.turn(0)]);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(MAX_WAIT_MS - 2);
    expect(waited).toBeLessThan(MAX_WAIT_MS + 2000);
    expect(gate.waiting).toBe(0);
  });

  it('past MAX_WAIT_MS, large steps go one per turn between the slices, never all at once', async () => {
    const gate = new LiveFirstGate();
    gate.begin(); // a fan-out longer than MAX_WAIT_MS
    const went: number[] = [];
    const steps = [0, 1, 2, 3, 4].map((i) => gate.turn(LARGE_STEP_BYTES).then(() => went.push(i)));
    const t0 = performance.now();
    // Turn by turn (each a check phase, like a slice's setImmediate) until the first goes.
    while (went.length === 0) await turn();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(MAX_WAIT_MS - 2);
    // The fan-out still goes on: each turn (a slice's setImmediate) lets one more step go.
    expect(went).toEqual([0]);
    for (let n = 2; n <= 5; n++) {
      await turn();
      expect(went).toEqual([0, 1, 2, 3, 4].slice(0, n));
    }
    await Promise.all(steps);
    expect(gate.waiting).toBe(0);
    // The queue emptied: the next step waits for the fan-out again (MAX_WAIT_MS at most).
    let late = false;
    const next = gate.turn(LARGE_STEP_BYTES).then(() => (late = true));
    await turn();
    await turn();
    expect(late).toBe(false);
    gate.end();
    await next;
    expect(late).toBe(true);
  });

  it('a block published before waiting history got its turn is fanned out first', async () => {
    const gate = new LiveFirstGate();
    gate.begin();
    let went = false;
    const waited = gate.turn(0).then(() => (went = true));
    gate.end(); // history's turn is scheduled (setImmediate) …
    gate.begin(); // … but the next block's fan-out starts before it
    await turn();
    await turn();
    expect(went).toBe(false);
    gate.end();
    await waited;
    expect(went).toBe(true);
  });
});

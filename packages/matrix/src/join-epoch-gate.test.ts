import { describe, expect, it } from 'vitest';
import { JoinEpochGate } from './join-epoch-gate.ts';

describe('JoinEpochGate', () => {
  it('is open until a join, and opens again only for an epoch fixed after it', async () => {
    const g = new JoinEpochGate();
    expect(g.open).toBe(true);
    await g.wait(10);
    const before = g.fixed(); // an epoch fixed before the join (a scheduled one, say)
    g.joined();
    expect(g.open).toBe(false);
    const after = g.fixed();
    let opened = false;
    const waiting = g.wait(5_000).then(() => (opened = true));
    // The older epoch reaching the room does not open it: it started before the join.
    g.sent(before);
    await new Promise((r) => setTimeout(r, 5));
    expect(opened).toBe(false);
    g.sent(after);
    await waiting;
    expect(g.open).toBe(true);
  });

  it('a second join while the first join’s epoch is in flight waits for an epoch after both', async () => {
    const g = new JoinEpochGate();
    g.joined();
    const first = g.fixed();
    g.joined();
    let opened = false;
    const waiting = g.wait(5_000).then(() => (opened = true));
    g.sent(first);
    await new Promise((r) => setTimeout(r, 5));
    expect(opened).toBe(false);
    g.sent(g.fixed());
    await waiting;
  });

  it('refuses when the join’s epoch does not come in time, and stays closed', async () => {
    const g = new JoinEpochGate();
    g.joined();
    await expect(g.wait(20)).rejects.toThrow(/no epoch for the join after 20 ms/);
    expect(g.open).toBe(false);
    // A later epoch (any reason) covers the join.
    g.sent(g.fixed());
    await g.wait(10);
  });

  it('close() refuses the waiting re-shares at once', async () => {
    const g = new JoinEpochGate();
    g.joined();
    const waiting = g.wait(60_000);
    g.close();
    await expect(waiting).rejects.toThrow(/the broadcast stopped before the join’s epoch/);
  });

  it('sent() out of order never moves the gate back', () => {
    const g = new JoinEpochGate();
    g.joined();
    g.joined();
    g.sent(2);
    g.sent(1);
    expect(g.open).toBe(true);
  });
});

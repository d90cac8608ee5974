/** One listener count: a media's and the relay's move together through MediaRecord.join. */
import { describe, expect, it } from 'vitest';
import { ListenerTally } from './listener-tally.ts';
import { MediaRecord } from './media-record.ts';

describe('listener counts', () => {
  it('a join counts in the media and the relay totals; its leave uncounts both, once', () => {
    const totals = new ListenerTally();
    const a = new MediaRecord('a', '@u:x', 0, 0, null, undefined, totals);
    const b = new MediaRecord('b', '@u:x', 0, 0, null, undefined, totals);
    const leaveWs = a.join('ws');
    const leaveHttp = a.join('http');
    const leaveB = b.join('ws');
    expect([a.listeners, a.wsListeners, a.httpListeners, b.listeners]).toEqual([2, 1, 1, 1]);
    expect([totals.ws, totals.http, totals.sockets]).toEqual([2, 1, 2]);
    leaveWs();
    leaveWs(); // a close reported twice ('close' and 'error') is one leave
    leaveHttp();
    expect([a.listeners, totals.ws, totals.http]).toEqual([0, 1, 0]);
    leaveB();
    expect([b.listeners, totals.listeners, totals.sockets]).toEqual([0, 0, 0]);
  });

  it("an owner's acknowledgement socket is a relay WebSocket, not a listener of its media", () => {
    const totals = new ListenerTally();
    const rec = new MediaRecord('m', '@u:x', 0, 0, null, undefined, totals);
    const leave = rec.join('ack');
    expect([rec.listeners, rec.wsListeners, totals.sockets, totals.ws]).toEqual([0, 0, 1, 0]);
    expect(JSON.parse(rec.statusMessage().toString())).toMatchObject({ listeners: 0 });
    leave();
    expect(totals.sockets).toBe(0);
  });
});

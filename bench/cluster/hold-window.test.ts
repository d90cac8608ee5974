import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { watchHold } from './hold-window.ts';

describe('watchHold', () => {
  it('samples at the hold-start and hold-end lines, even split across chunks', () => {
    const out = new PassThrough();
    let value = 100;
    const hold = watchHold(out, () => [value, value * 2]);
    out.write('{"event":"started"}\n{"event":"hold-');
    expect(hold.result()).toBeNull();
    out.write('start"}\n');
    value = 175;
    out.write('{"event":"hold-end"}\n');
    value = 1000; // after the hold: not counted
    out.write('{"event":"result","result":{}}\n');
    const r = hold.result();
    expect(r?.cpuUs).toEqual([75, 150]);
    expect(r?.wallMs).toBeGreaterThanOrEqual(0);
  });

  it('has no result when the hold never ended (a failed row)', () => {
    const out = new PassThrough();
    const hold = watchHold(out, () => [1]);
    out.write('{"event":"hold-start"}\n{"event":"error","message":"x"}\n');
    expect(hold.result()).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { ResumePoints, pointAt } from './resume-points.ts';

const ogg = (pageSeq: number) => ({ serial: 7, pageSeq, granule: String((pageSeq - 2) * 11520) });

describe('ResumePoints', () => {
  it('maps acks to the block boundary at or before them and keeps the unacked points', () => {
    const points = new ResumePoints(0);
    points.written(null, 8); // the magic
    points.written(0, 100, ogg(2)); // OpusHead
    points.written(1, 100, ogg(2)); // OpusTags
    points.written(2, 100, ogg(3));
    points.written(3, 100, ogg(4));
    expect(points.acked(8)).toBeNull();
    expect(points.acked(208)).toMatchObject({ nextSeq: 2, offset: 208, pageSeq: 2 });
    // An offset inside a block (never sent by the relay, but safe): the boundary before it.
    expect(points.acked(250)).toMatchObject({ nextSeq: 2, offset: 208 });
    expect(points.ahead.map((p) => p.offset)).toEqual([308, 408]);
    expect(points.acked(408)).toMatchObject({
      nextSeq: 4,
      offset: 408,
      pageSeq: 4,
      granule: '23040',
    });
    expect(points.ahead).toEqual([]);
  });

  it('continues counting from a resume offset', () => {
    const start = { nextSeq: 4, offset: 408, ...ogg(4) };
    const points = new ResumePoints(408, start);
    expect(points.acked(408)).toEqual(start);
    points.written(4, 100, ogg(5));
    expect(points.acked(508)).toMatchObject({ nextSeq: 5, offset: 508, pageSeq: 5 });
  });

  it('picks the point the relay stored, or none', () => {
    const acked = { nextSeq: 4, offset: 408, ...ogg(4) };
    const ahead = [
      { nextSeq: 5, offset: 508, ...ogg(5) },
      { nextSeq: 6, offset: 608, ...ogg(6) },
    ];
    expect(pointAt(408, acked, ahead)).toBe(acked);
    expect(pointAt(608, acked, ahead)?.nextSeq).toBe(6);
    expect(pointAt(708, acked, ahead)).toBeNull();
    expect(pointAt(308, acked, ahead)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import type { SeriesName } from './fanout-servers.ts';
import { reportOrder, runOrder } from './run-order.ts';

const ALL: SeriesName[] = ['relay-ws', 'relay-ws-hostile', 'relay-http', 'icecast-http', 'floor'];

describe('runOrder', () => {
  it("runs every preset's hostile rows before any large row", () => {
    const order = runOrder(['low-latency', 'voice'], ALL).map((g) => `${g.preset} ${g.series}`);
    expect(order.slice(0, 2)).toEqual(['low-latency relay-ws-hostile', 'voice relay-ws-hostile']);
    expect(order.slice(2, 6)).toEqual([
      'low-latency relay-ws',
      'low-latency relay-http',
      'low-latency icecast-http',
      'low-latency floor',
    ]);
    expect(order).toHaveLength(10);
  });

  it('keeps a subset as asked', () => {
    expect(runOrder(['voice'], ['relay-ws', 'floor'])).toEqual([
      { preset: 'voice', series: 'relay-ws' },
      { preset: 'voice', series: 'floor' },
    ]);
  });
});

describe('reportOrder', () => {
  it('puts the rows back by preset and series, keeping each series in the order it ran', () => {
    const ran = [
      { preset: 'low-latency', series: 'relay-ws-hostile' as const, n: 1000 },
      { preset: 'low-latency', series: 'relay-ws-hostile' as const, n: 3000 },
      { preset: 'voice', series: 'relay-ws-hostile' as const, n: 1000 },
      { preset: 'low-latency', series: 'relay-ws' as const, n: 100 },
      { preset: 'low-latency', series: 'relay-ws' as const, n: 1000 },
      { preset: 'voice', series: 'relay-ws' as const, n: 100 },
    ];
    const got = reportOrder(ran, ['low-latency', 'voice'], ALL).map(
      (r) => `${r.preset} ${r.series} ${r.n}`,
    );
    expect(got).toEqual([
      'low-latency relay-ws 100',
      'low-latency relay-ws 1000',
      'low-latency relay-ws-hostile 1000',
      'low-latency relay-ws-hostile 3000',
      'voice relay-ws 100',
      'voice relay-ws-hostile 1000',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { bestHeld, targetNotes, type FanoutRow } from './fanout-report.ts';
import type { ScenarioResult } from './fanout-scenario.ts';
import { scenarioResult } from './scenario-fixture.ts';
import type { WriteFloorResult } from './write-floor.ts';

function result(listeners: number, p99: number, lostBlocks = 0): ScenarioResult {
  return scenarioResult(listeners, p99, { expectedBlocks: 100, lostBlocks });
}

const floorFigures = { writer: { cpuUsPerWrite: 19.7 } } as unknown as WriteFloorResult;

describe('fan-out target notes', () => {
  it('counts only rows held whole, none lost, within the p99 bound', () => {
    const rows: FanoutRow[] = [
      { preset: 'voice', series: 'relay-ws', listeners: 3000, result: result(3000, 60) },
      { preset: 'voice', series: 'relay-ws', listeners: 5000, result: result(5000, 90, 3) },
      { preset: 'voice', series: 'relay-ws', listeners: 10_000, result: result(10_000, 220) },
    ];
    expect(bestHeld(rows, 'voice', 'relay-ws', 100)).toBe(3000);
  });

  it('judges low-latency against Icecast of the same run and voice against 10000', () => {
    const rows: FanoutRow[] = [
      { preset: 'low-latency', series: 'relay-ws', listeners: 1000, result: result(1000, 30) },
      { preset: 'low-latency', series: 'icecast-http', listeners: 1000, result: result(1000, 40) },
      {
        preset: 'low-latency',
        series: 'icecast-http',
        listeners: 3000,
        result: result(3000, 16_000, 10),
      },
      { preset: 'voice', series: 'relay-ws', listeners: 10_000, result: result(10_000, 225) },
    ];
    const notes = targetNotes(rows, true, 10_000);
    expect(notes.find((n) => n.startsWith('Target low-latency (WebSocket)'))).toMatch(
      /MET — the relay held 1000 .* Icecast held 1000/,
    );
    expect(notes.find((n) => n.startsWith('Target voice (WebSocket)'))).toMatch(/NOT MET/);
  });

  it('says when the write() floor itself misses the voice target, and when it does not', () => {
    const floorRow = (p99: number): FanoutRow => ({
      preset: 'voice',
      series: 'floor',
      listeners: 10_000,
      result: result(10_000, p99),
      floor: floorFigures,
    });
    const below = targetNotes([floorRow(235.9)], true, 10_000).join('\n');
    expect(below).toMatch(/floor itself reached only p99 235\.9 ms .*19\.7 µs.*below its floor/);
    const within = targetNotes([floorRow(80)], true, 10_000).join('\n');
    expect(within).toMatch(/within this machine's reach/);
    expect(targetNotes([], true, 10_000).join('\n')).not.toMatch(/floor/);
  });
});

/** The hostile row's notes: honest p99 against the clean row's, the relay's RSS against its ceiling. */
import { describe, expect, it } from 'vitest';
import { breakReason, hostileNotes, hostileRssCeilingMb, type FanoutRow } from './fanout-report.ts';
import type { ScenarioResult } from './fanout-scenario.ts';
import { scenarioResult } from './scenario-fixture.ts';
import type { HostileResult } from './hostile-crowd.ts';

function result(
  honest: number,
  p99: number,
  rssMb: number,
  hostile?: HostileResult,
): ScenarioResult {
  return scenarioResult(honest, p99, { serverPeakRssMb: rssMb, ...(hostile ? { hostile } : {}) });
}

const crowd: HostileResult = {
  stalledReaders: 50,
  flooders: 50,
  stalledOpened: 50,
  framesSent: 120_000,
  floodersClosed: 300,
  relayStalledCut: 48,
  relayFloodersCut: 300,
  relayHistoryBudgetBytes: 0,
  relayListeners: 1000,
  floodersRefused: 0,
};

const rows = (hostileP99: number, hostileRss: number): FanoutRow[] => [
  { preset: 'voice', series: 'relay-ws', listeners: 1000, result: result(1000, 20, 150) },
  {
    preset: 'voice',
    series: 'relay-ws-hostile',
    listeners: 1000,
    result: result(900, hostileP99, hostileRss, crowd),
  },
];

describe('hostile row notes', () => {
  it('the ceiling is the clean peak + the history budget + 80 KiB per hostile connection', () => {
    expect(hostileRssCeilingMb(150, 1024)).toBe(150 + 64 + 80);
  });

  it('meets the target when the honest p99 is within 10 % and RSS under the ceiling', () => {
    const [note] = hostileNotes(rows(21.6, 200));
    expect(note).toMatch(/900 honest WebSocket listeners .* \+ 100 hostile/);
    expect(note).toMatch(/p99 21\.6 ms vs 20 ms clean \(\+8 %\): target within 10 % MET/);
    expect(note).toMatch(/peak RSS 200 MB vs ceiling 222 MB .*: under/);
    expect(note).toMatch(/cut 48 stalled readers and closed 300 listeners/);
  });

  it('says NOT MET and OVER when the hostile tenth slows honest listeners or grows memory', () => {
    const [note] = hostileNotes(rows(30, 400));
    expect(note).toMatch(/\(\+50 %\): target within 10 % NOT MET/);
    expect(note).toMatch(/vs ceiling 222 MB .*: OVER/);
  });

  it('does not judge without a clean row of the same N', () => {
    const [note] = hostileNotes(rows(21.5, 200).slice(1));
    expect(note).toMatch(/not judged/);
  });

  it('a hostile row whose honest listeners all joined is not broken', () => {
    const row = rows(21.5, 200)[1] as FanoutRow;
    expect(breakReason(row)).toBeNull();
  });
});

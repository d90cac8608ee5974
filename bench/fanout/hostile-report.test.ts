/** The hostile row's notes: each pair's honest p99 against its clean run's, RSS against the ceiling. */
import { describe, expect, it } from 'vitest';
import { breakReason, type FanoutRow } from './fanout-report.ts';
import { hostileNotes, hostileRssCeilingMb } from './hostile-report.ts';
import type { HostilePair } from './hostile-pairs.ts';
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
  crowdPlacement: 'process',
  crowdCpuPct: 6,
  crowdIdlePolicy: true,
};

/** A hostile row of pairs: [clean p99, hostile p99] each, the hostile runs at `hostileRss` MB. */
const rows = (pairs: [number, number][], hostileRss = 200): FanoutRow[] => {
  const runs = pairs.map(([clean, hostile]) => ({
    clean: result(900, clean, 150),
    hostile: result(900, hostile, hostileRss, crowd),
  }));
  return [
    {
      preset: 'voice',
      series: 'relay-ws-hostile',
      listeners: 1000,
      pairs: runs,
      result: runs[0]?.hostile,
    },
  ];
};

describe('hostile row notes', () => {
  it('the ceiling is the clean peak + the history budget and shared reads + 80 KiB per connection', () => {
    expect(hostileRssCeilingMb(150, 1024)).toBe(150 + 64 + 8 + 80);
  });

  it('meets the target when the median pair is within 10 % and RSS under the ceiling', () => {
    const [note] = hostileNotes(rows([[20, 21.6]]));
    expect(note).toMatch(/900 honest WebSocket listeners .* \+ 100 hostile/);
    expect(note).toMatch(/pair 1 \(clean first\): 20 → 21\.6 ms \(\+8 %\)/);
    expect(note).toMatch(/RSS 200 of 230 MB/);
    expect(note).toMatch(/Median change \+8 %: target within 10 % MET; relay peak RSS under/);
    expect(note).toMatch(/cut 48 stalled readers and closed 300 listeners/);
  });

  it('says how long the row waited for the rows before to settle, when it did', () => {
    const [row] = rows([[20, 21.6]]);
    expect(hostileNotes([row!])[0]).not.toMatch(/TIME_WAIT/);
    row!.settled = { before: 950, after: 950, waitedMs: 2 };
    expect(hostileNotes([row!])[0]).not.toMatch(/TIME_WAIT/);
    row!.settled = { before: 11_836, after: 12, waitedMs: 61_400 };
    expect(hostileNotes([row!])[0]).toMatch(
      /\. Started after 61 s for the rows before's 11836 TIME_WAIT sockets to expire \(12 left\)\. Honest p99/,
    );
  });

  it("names the crowd's own CPU, or says it ran in the generator (MXCAST_BENCH_CROWD)", () => {
    const [own] = hostileNotes(rows([[20, 21.6]]));
    expect(own).toMatch(/load gen CPU \d+ → \d+ % \+ crowd 6 %, RSS/);
    const inGenerator = { ...crowd, crowdPlacement: 'generator' as const, crowdCpuPct: null };
    const [row] = rows([[20, 21.6]]);
    const pair = row!.pairs![0]!;
    pair.hostile = result(900, 21.6, 200, inGenerator);
    const [note] = hostileNotes([row!]);
    expect(note).toMatch(/load gen CPU \d+ → \d+ % \(crowd in it\), RSS/);
  });

  it('judges the median of the pairs, reporting every pair and its order', () => {
    // +50 %, +5 %, −5 %: one bad pair does not decide; all three are reported.
    const [note] = hostileNotes(
      rows([
        [10, 15],
        [10, 10.5],
        [10, 9.5],
      ]),
    );
    expect(note).toMatch(/3 pairs/);
    expect(note).toMatch(/pair 1 \(clean first\): 10 → 15 ms \(\+50 %\)/);
    expect(note).toMatch(/pair 2 \(hostile first\): 10 → 10\.5 ms \(\+5 %\)/);
    expect(note).toMatch(/pair 3 \(clean first\): 10 → 9\.5 ms \(-5 %\)/);
    expect(note).toMatch(/Median change \+5 %: target within 10 % MET/);
  });

  it('says NOT MET and OVER when the hostile tenth slows honest listeners or grows memory', () => {
    const [note] = hostileNotes(
      rows(
        [
          [20, 30],
          [20, 25],
          [20, 21],
        ],
        400,
      ),
    );
    expect(note).toMatch(/Median change \+25 %: target within 10 % NOT MET/);
    expect(note).toMatch(/OVER in 3 of 3/);
  });

  it('does not judge a row past capacity: clean p99 over the preset target, or generator saturated', () => {
    // voice's target is 100 ms: clean runs at 120 ms are a saturated relay.
    const [over] = hostileNotes(rows([[120, 150]]));
    expect(over).toMatch(/Median change \+25 %: not judged: past this machine's capacity/);
    expect(over).toMatch(/median p99 is 120 ms, over the 100 ms target/);
    expect(over).not.toMatch(/MET/);
    // Within the target, but the generator's core is saturated in most runs.
    const [row] = rows([[20, 30]]) as [FanoutRow];
    const pair = row.pairs?.[0] as HostilePair;
    pair.clean = { ...(pair.clean as ScenarioResult), generatorCpuPct: 95 };
    pair.hostile = { ...(pair.hostile as ScenarioResult), generatorCpuPct: 92 };
    const [busy] = hostileNotes([row]);
    expect(busy).toMatch(/not judged: past .* used 97 % of their core/);
    // One saturated run of two (median below 90 %) is still judged.
    pair.hostile = { ...pair.hostile, generatorCpuPct: 60 };
    expect(hostileNotes([row])[0]).toMatch(/target within 10 % NOT MET/);
  });

  it('does not judge a row without a complete pair', () => {
    const [row] = rows([[20, 21]]) as [FanoutRow];
    delete row.pairs?.[0]?.clean;
    const [note] = hostileNotes([row]);
    expect(note).toMatch(/not judged, no complete pair/);
  });

  it("says why a pair is incomplete, so a failed run's reason is in the rendered notes", () => {
    const [row] = rows([
      [20, 21],
      [20, 22],
    ]) as [FanoutRow];
    const pair = row.pairs?.[1] as HostilePair;
    delete pair.clean;
    pair.error = 'clean: relay did not start';
    const [note] = hostileNotes([row]);
    expect(note).toMatch(/pair 2 \(hostile first\): incomplete \(clean: relay did not start\)/);
  });

  it('a hostile row whose honest listeners all joined is not broken', () => {
    const row = rows([[20, 21.5]])[0] as FanoutRow;
    expect(breakReason(row)).toBeNull();
  });
});

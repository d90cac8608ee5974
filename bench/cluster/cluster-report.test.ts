import { describe, expect, it } from 'vitest';
import { scenarioResult } from '../fanout/scenario-fixture.ts';
import { parsePlan, placeProcesses } from './cluster-plan.ts';
import {
  capacityNotes,
  capacityTable,
  costTable,
  delayNotes,
  delayTable,
  lastPassing,
  type ClusterRow,
} from './cluster-report.ts';

const delayRow = (setup: ClusterRow['setup'], p99: number, lostBlocks = 0): ClusterRow => ({
  phase: 'delay',
  setup,
  listeners: 1000,
  result: scenarioResult(1000, p99, { lostBlocks }),
});

const step = (setup: ClusterRow['setup'], n: number, p99: number): ClusterRow => ({
  phase: 'capacity',
  setup,
  listeners: n,
  result: scenarioResult(n, p99),
});

describe('cluster bench report', () => {
  it('judges the delay target on the p99 difference and prints it as a row', () => {
    const met = [delayRow('single', 20), delayRow('cluster', 24.5)];
    expect(delayNotes(met)[0]).toMatch(/MET — p99 24\.5 ms against 20 ms \(\+4\.5 ms\)/);
    const t = delayTable(met, 'delay');
    expect(t.rows).toHaveLength(3);
    expect(t.rows[2]?.slice(0, 1)).toEqual(['difference (cluster − single)']);
    expect(t.rows[2]?.[4]).toBe(4.5);
    expect(delayNotes([delayRow('single', 20), delayRow('cluster', 25.1)])[0]).toMatch(/NOT MET/);
  });

  it('does not call the target met when the cluster row lost blocks, however fast', () => {
    const notes = delayNotes([delayRow('single', 20), delayRow('cluster', 10, 4)]);
    expect(notes[0]).toMatch(/NOT MET.*4 blocks lost/);
  });

  it('says why the target was not judged when a row failed', () => {
    const rows: ClusterRow[] = [
      delayRow('single', 20),
      { phase: 'delay', setup: 'cluster', listeners: 1000, error: 'relay B exited (1)' },
    ];
    expect(delayNotes(rows)[0]).toMatch(/not judged \(cluster: relay B exited \(1\)\)/);
    expect(delayTable(rows, 'delay').rows).toHaveLength(2);
  });

  it('reports the last capacity step that held at p99 ≤ 100 ms, per setup', () => {
    const rows = [
      step('cluster', 1000, 40),
      step('cluster', 2000, 80),
      step('cluster', 4000, 140),
      step('single', 1000, 30),
      { ...step('single', 2000, 50), result: scenarioResult(2000, 50, { dropped: 3 }) },
    ];
    expect(lastPassing(rows, 'cluster')).toBe(2000);
    expect(lastPassing(rows, 'single')).toBe(1000);
    expect(capacityNotes(rows)[0]).toMatch(/cluster node 2000, single-process relay 1000/);
    const t = capacityTable(rows, 'capacity');
    expect(t.rows.map((r) => r.at(-1))).toEqual([
      'yes',
      'yes',
      'no (p99 140 ms > 100 ms)',
      'yes',
      'no (3 dropped)',
    ]);
    expect(capacityNotes([step('single', 1000, 30)])[0]).toMatch(/cluster node not run/);
  });

  it('shapes the cost rows with the replica count', () => {
    const t = costTable(
      [
        {
          operation: 'append',
          blocks: 2000,
          blockBytes: 1031,
          replicas: 3,
          wallUsPerBlock: 512.4,
          relayCpuUsPerBlock: 201.6,
          natsCpuUsPerBlock: 310.2,
        },
        {
          operation: 'upload',
          blocks: 160,
          blockBytes: 1031,
          replicas: 3,
          wallUsPerBlock: Number.NaN,
          relayCpuUsPerBlock: 950,
          natsCpuUsPerBlock: 720,
        },
      ],
      'cost',
    );
    expect(t.columns).toContain('replicas');
    expect(t.rows[0]).toEqual([
      'append (publish + ack, exactly-once headers)',
      2000,
      1031,
      3,
      512,
      202,
      310,
    ]);
    // A whole node over a row has no per-block wall time: shown as a dash, never NaN.
    expect(t.rows[1]?.slice(4)).toEqual(['—', 950, 720]);
  });
});

describe('cluster bench plan', () => {
  it('narrows the plan by its options and refuses bad values', () => {
    const { plan, given } = parsePlan(false, ['cluster', '--nats=5', '--n=500,1500', '--hold=10']);
    expect(plan).toMatchObject({ nats: 5, replicas: 3, steps: [500, 1500], holdMs: 10_000 });
    expect(given).toHaveLength(3);
    expect(parsePlan(true, []).plan.holdMs).toBeLessThan(parsePlan(false, []).plan.holdMs);
    expect(() => parsePlan(false, ['--n=10,x'])).toThrow(/--n: 'x'/);
    expect(() => parsePlan(false, ['--nats=1'])).toThrow(/--nats: '1' is not a count from 3 to 9/);
  });

  it('gives every process its own core only where the machine has them', () => {
    expect(placeProcesses(2, 3, true)).toMatchObject({
      uploadNode: null,
      natsCores: null,
      dedicated: false,
    });
    expect(placeProcesses(8, 3, true)).toMatchObject({
      listenerNode: 0,
      loadGenerator: 1,
      uploadNode: 2,
      natsCores: '3-5',
      dedicated: true,
    });
    expect(placeProcesses(8, 3, false).dedicated).toBe(false);
  });
});

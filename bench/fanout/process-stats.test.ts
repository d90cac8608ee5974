/** The /proc sampler against real processes: a busy child tree and an idle one. */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cpuSeconds,
  machineCpuTicks,
  processTree,
  ProcessSampler,
  rssBytes,
  stealPct,
} from './process-stats.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  // Each child leads its own process group (detached), so one kill ends its grandchild too:
  // killing the child alone would leave a spinning orphan behind.
  for (const c of children.splice(0)) {
    try {
      process.kill(-(c.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A node process that spins (or sleeps) until killed, with `grandchild` spawning one more. */
function start(busy: boolean, grandchild = false): Promise<ChildProcess> {
  // Either way the process ends itself after 10 s, should a crashed test leave it behind.
  const work = busy
    ? 'const end=Date.now()+10000;while(Date.now()<end){}'
    : 'setTimeout(()=>{},10000)';
  const code = grandchild
    ? `require('node:child_process').spawn(process.execPath,['-e',${JSON.stringify(work)}],{stdio:'ignore'});console.log('up');${work}`
    : `console.log('up');${work}`;
  const c = spawn(process.execPath, ['-e', code], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  children.push(c);
  return new Promise((resolve) => c.stdout?.once('data', () => resolve(c)));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ProcessSampler', () => {
  it('counts the CPU of a spinning process tree, grandchildren included', async () => {
    const c = await start(true, true);
    // the grandchild is listed once it has started
    for (let i = 0; i < 50 && processTree(c.pid as number).length < 2; i++) await sleep(20);
    expect(processTree(c.pid as number)).toHaveLength(2);
    const s = new ProcessSampler(c.pid as number);
    s.start();
    await sleep(1000);
    const r = s.stop();
    // Two spinning processes; on a loaded 2-core machine each still gets a good share.
    expect(r.cpuPct).toBeGreaterThan(20);
    expect(r.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('reads next to nothing for a sleeping process', async () => {
    const c = await start(false);
    const s = new ProcessSampler(c.pid as number);
    s.start();
    await sleep(500);
    const r = s.stop();
    expect(r.cpuPct).toBeGreaterThanOrEqual(0);
    expect(r.cpuPct).toBeLessThan(10);
  });

  it('reads zero for a process that is gone', () => {
    expect(cpuSeconds(2 ** 22 + 1)).toBe(0);
    expect(rssBytes(2 ** 22 + 1)).toBe(0);
  });
});

describe('machine CPU steal (/proc/stat)', () => {
  const stat = (steal: number, idle: number) =>
    `cpu  100 5 50 ${idle} 3 0 7 ${steal} 40 0\ncpu0 50 2 25 ${idle / 2} 1 0 3 ${steal / 2} 0 0\n`;

  it('reads steal and the total of the first eight fields (guest is inside user)', () => {
    expect(machineCpuTicks(stat(20, 800))).toEqual({ steal: 20, total: 985 });
  });

  it('gives steal as a share of the CPU time between two readings', () => {
    const pct = stealPct(machineCpuTicks(stat(20, 800)), machineCpuTicks(stat(70, 1250)));
    expect(pct).toBeCloseTo((100 * 50) / 500, 6);
  });

  it('is null for text without a steal field, or no time between readings', () => {
    expect(machineCpuTicks('cpu  1 2 3 4\n')).toBeNull();
    expect(machineCpuTicks('intr 5\n')).toBeNull();
    const a = machineCpuTicks(stat(20, 800));
    expect(stealPct(a, a)).toBeNull();
    expect(stealPct(null, a)).toBeNull();
  });

  it('reads this machine', () => {
    const now = machineCpuTicks();
    expect(now).not.toBeNull();
    expect(now?.total).toBeGreaterThan(0);
    expect(now?.steal).toBeGreaterThanOrEqual(0);
  });
});

/**
 * CPU time and resident memory of a server process and its descendants, read from /proc
 * (proc(5): /proc/<pid>/stat fields 14–15 utime/stime in clock ticks, /proc/<pid>/status
 * VmRSS), so the bench measures a server it only knows by pid, whatever it is written in.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSafe(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // the process ended: it has no children left to count
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The pid and every descendant's. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i] as number));
  return all;
}

/** CPU seconds used so far by the tree, user and system (kernel) apart. */
export function cpuTimes(pid: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(fields[11]);
      system += Number(fields[12]);
    } catch {
      // gone between listing and reading
    }
  }
  return { user: user / CLOCK_TICKS_PER_SECOND, system: system / CLOCK_TICKS_PER_SECOND };
}

/** CPU seconds (user + system) used so far by the tree. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** Resident set size of the tree, in bytes. */
export function rssBytes(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone between listing and reading
    }
  }
  return kb * 1024;
}

/**
 * The whole machine's CPU time from /proc/stat's first line (proc(5): user nice system idle iowait
 * irq softirq steal …, in clock ticks): `steal` is time the hypervisor gave this VM's cores to
 * something else while they had work — a host busy with other guests, which slows every figure of
 * a run alike. Null where /proc/stat is unreadable or has no steal field.
 */
export function machineCpuTicks(text?: string): { steal: number; total: number } | null {
  let stat = text;
  try {
    stat ??= readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const line = /^cpu\s+([\d ]+)/.exec(stat)?.[1];
  const ticks = line?.trim().split(/\s+/).map(Number) ?? [];
  if (ticks.length < 8) return null;
  // guest and guest_nice (fields 9-10) are already counted in user and nice.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { steal: ticks[7] ?? 0, total };
}

/** Steal as % of the machine's CPU time between two readings; null without both. */
export function stealPct(
  before: ReturnType<typeof machineCpuTicks>,
  after: ReturnType<typeof machineCpuTicks>,
): number | null {
  if (!before || !after || after.total <= before.total) return null;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

/** Tracks CPU % and peak RSS of a process tree between start() and stop(). */
export class ProcessSampler {
  readonly #pid: number;
  #cpu0 = 0;
  #t0 = 0;
  #peakRss = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(): void {
    this.#cpu0 = cpuSeconds(this.#pid);
    this.#t0 = performance.now();
    this.#peakRss = rssBytes(this.#pid);
    this.#timer = setInterval(() => {
      this.#peakRss = Math.max(this.#peakRss, rssBytes(this.#pid));
    }, 500);
  }

  /** CPU % of one core over the interval, and the peak RSS seen in it. */
  stop(): { cpuPct: number; peakRssBytes: number } {
    if (this.#timer) clearInterval(this.#timer);
    const seconds = (performance.now() - this.#t0) / 1000;
    const cpu = cpuSeconds(this.#pid) - this.#cpu0;
    this.#peakRss = Math.max(this.#peakRss, rssBytes(this.#pid));
    return {
      cpuPct: seconds > 0 ? (cpu / seconds) * 100 : Number.NaN,
      peakRssBytes: this.#peakRss,
    };
  }
}

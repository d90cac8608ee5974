/**
 * The load generator's handle on a hostile row's crowd, run in its own process
 * (hostile-crowd-main.ts, which says why): pinned to the load generator's core, in its own
 * session (pinned-process.ts) — or, to compare, on the server's core or in the generator's session
 * (MXCAST_BENCH_CROWD, hostile-crowd.ts). `open` resolves once every hostile connection is up;
 * `stop` ends the crowd and returns what it did and the CPU it used.
 *
 * Its priority: the generator's autogroup priority, in a session of its own, under SCHED_IDLE
 * (pinned-process.ts): whenever the generator wakes — a block arriving for its honest listeners —
 * the kernel takes the core from the crowd at once, and where the generator keeps the core busy
 * (`low-latency` N = 3000, 97 %) the crowd still gets its session's share, enough to open its
 * connections and stop in time. Tried before, not kept (2026-12-05): the lowest autogroup priority
 * (nice 19). That does not preempt: a crowd picked to run kept its slice while the generator
 * waited, and starved where the generator saturated its core (four hostile runs of seven failed).
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CrowdConfig, CrowdEvent } from './hostile-crowd-main.ts';
import { HostileCrowd, type CrowdPlacement, type HostileStats } from './hostile-crowd.ts';
import { GENERATOR_CORE, PinnedProcess, SERVER_CORE } from './pinned-process.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * What the crowd did, and the CPU its process used from opening to stop (% of one core; null for
 * a crowd in the load generator, whose CPU is the generator's).
 */
export interface CrowdReport {
  stats: HostileStats;
  cpuPct: number | null;
}

/** A hostile row's crowd, opened, wherever it runs. */
export interface OpenCrowd {
  readonly placement: CrowdPlacement;
  readonly idlePolicy: boolean;
  /** Ends the crowd (every hostile socket closed) and returns its report. */
  stop(): Promise<CrowdReport>;
  /** Ends it without a report (on an error). */
  kill(): Promise<void>;
}

/** The core a crowd's own process runs on, by placement (MXCAST_BENCH_CROWD). */
export const CROWD_CORE = {
  process: GENERATOR_CORE,
  'generator-session': GENERATOR_CORE,
  'server-core': SERVER_CORE,
} as const;

/**
 * Opens `config`'s crowd where `placement` says (MXCAST_BENCH_CROWD): in a process of its own on
 * the generator's or the server's core, or in this process (the load generator's event loop).
 */
export async function openHostileCrowd(
  placement: CrowdPlacement,
  config: CrowdConfig,
  timeoutMs: number,
): Promise<OpenCrowd> {
  if (placement !== 'generator')
    return HostileCrowdProcess.open(config, CROWD_CORE[placement], timeoutMs, placement);
  const crowd = new HostileCrowd(config.target);
  const stop = (): Promise<CrowdReport> => {
    crowd.close();
    return Promise.resolve({ stats: crowd.stats(), cpuPct: null });
  };
  try {
    await crowd.start(config.count, config.only);
  } catch (err) {
    crowd.close();
    throw err;
  }
  return { placement, idlePolicy: false, stop, kill: async () => void (await stop()) };
}

export class HostileCrowdProcess implements OpenCrowd {
  readonly placement: CrowdPlacement;
  readonly #process: PinnedProcess;
  readonly #events: AsyncIterator<string>;

  private constructor(child: PinnedProcess, placement: CrowdPlacement) {
    this.#process = child;
    this.placement = placement;
    this.#events = createInterface({ input: child.child.stdout! })[Symbol.asyncIterator]();
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** Whether the kernel reports the crowd's process under SCHED_IDLE (policy 5). */
  get idlePolicy(): boolean {
    return this.#process.policy === 5;
  }

  /**
   * Starts the process on `core` and opens the crowd; rejects after `timeoutMs`. `placement` is
   * what the crowd reports as where it ran.
   */
  static async open(
    config: CrowdConfig,
    core: number,
    timeoutMs: number,
    placement: CrowdPlacement = 'process',
  ): Promise<HostileCrowdProcess> {
    const crowd = new HostileCrowdProcess(
      new PinnedProcess(
        'hostile crowd',
        core,
        process.execPath,
        ['--import', 'tsx', path.join(here, 'hostile-crowd-main.ts')],
        // In the generator's session, the crowd shares its autogroup (MXCAST_BENCH_CROWD).
        { cwd: here, detached: placement !== 'generator-session' },
        true,
      ),
      placement,
    );
    crowd.#process.child.stdin?.write(JSON.stringify(config) + '\n');
    try {
      await crowd.#next('opened', timeoutMs);
      return crowd;
    } catch (err) {
      await crowd.kill();
      throw err;
    }
  }

  /** Ends the crowd (every hostile socket closed) and returns its report. */
  async stop(timeoutMs = 5000): Promise<CrowdReport> {
    this.#process.child.stdin?.end('stop\n');
    try {
      const e = await this.#next('stopped', timeoutMs);
      return { stats: e.stats, cpuPct: e.cpuPct };
    } finally {
      await this.kill();
    }
  }

  async kill(): Promise<void> {
    await this.#process.stop(1000);
  }

  /** The next event, which must be `want`; an error event, an exit or the timeout rejects. */
  async #next<K extends CrowdEvent['event']>(
    want: K,
    timeoutMs: number,
  ): Promise<Extract<CrowdEvent, { event: K }>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`hostile crowd: no '${want}' within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      for (;;) {
        const line = await Promise.race([this.#events.next(), timeout]);
        if (line.done) {
          throw new Error(`hostile crowd exited before '${want}': ${this.#process.output}`);
        }
        let e: CrowdEvent;
        try {
          e = JSON.parse(line.value) as CrowdEvent;
        } catch {
          continue; // not ours (a warning printed by Node)
        }
        if (e.event === 'error') throw new Error(`hostile crowd: ${e.message}`);
        if (e.event === want) return e as Extract<CrowdEvent, { event: K }>;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

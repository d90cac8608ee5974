/**
 * The load generator's handle on a hostile row's crowd, run in its own process
 * (hostile-crowd-main.ts, which says why): pinned to the load generator's core, in its own
 * session (pinned-process.ts). `open` resolves once every hostile connection is up; `stop` ends
 * the crowd and returns what it did and the CPU it used.
 *
 * Its priority: the lowest (LOWEST_PRIORITY) from `open` to `stop`, the hold, so it runs only
 * when the honest listeners leave the core; the generator's own (PRIORITY) while it opens and
 * stops. Why not the lowest throughout: where the generator saturates its core (`low-latency`
 * N = 3000, 97 %), four hostile runs of seven failed with the crowd at the lowest priority
 * throughout (2026-12-05); their error was not kept, and the likely cause, not confirmed, is a
 * crowd with too little CPU to open its 300 connections or answer `stop` in time.
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CrowdConfig, CrowdEvent } from './hostile-crowd-main.ts';
import type { HostileStats } from './hostile-crowd.ts';
import { LOWEST_PRIORITY, PinnedProcess, PRIORITY } from './pinned-process.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** What the crowd did, and the CPU its process used from opening to stop (% of one core). */
export interface CrowdReport {
  stats: HostileStats;
  cpuPct: number;
}

export class HostileCrowdProcess {
  readonly #process: PinnedProcess;
  readonly #events: AsyncIterator<string>;

  private constructor(child: PinnedProcess) {
    this.#process = child;
    this.#events = createInterface({ input: child.child.stdout! })[Symbol.asyncIterator]();
  }

  get pid(): number {
    return this.#process.pid;
  }

  #lowest = false;

  /** Whether the crowd held at the lowest priority (false where autogroups are off). */
  get lowestPriority(): boolean {
    return this.#lowest;
  }

  /** Starts the process on `core` and opens the crowd; rejects after `timeoutMs`. */
  static async open(
    config: CrowdConfig,
    core: number,
    timeoutMs: number,
  ): Promise<HostileCrowdProcess> {
    const crowd = new HostileCrowdProcess(
      new PinnedProcess(
        'hostile crowd',
        core,
        process.execPath,
        ['--import', 'tsx', path.join(here, 'hostile-crowd-main.ts')],
        { cwd: here },
        PRIORITY,
      ),
    );
    crowd.#process.child.stdin?.write(JSON.stringify(config) + '\n');
    try {
      await crowd.#next('opened', timeoutMs);
      crowd.#lowest = crowd.#process.setPriority(LOWEST_PRIORITY);
      return crowd;
    } catch (err) {
      await crowd.kill();
      throw err;
    }
  }

  /** Ends the crowd (every hostile socket closed) and returns its report. */
  async stop(timeoutMs = 5000): Promise<CrowdReport> {
    this.#process.setPriority(PRIORITY);
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

/**
 * The load generator's handle on a hostile row's crowd, run in its own process
 * (hostile-crowd-main.ts, which says why): pinned to the load generator's core, in its own
 * session at the lowest autogroup priority (pinned-process.ts). `open` resolves once every
 * hostile connection is up; `stop` ends the crowd and returns what it did and the CPU it used.
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CrowdConfig, CrowdEvent } from './hostile-crowd-main.ts';
import type { HostileStats } from './hostile-crowd.ts';
import { LOWEST_PRIORITY, PinnedProcess } from './pinned-process.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** What the crowd did, and the CPU its process used from opening to stop (% of one core). */
export interface CrowdReport {
  stats: HostileStats;
  cpuPct: number;
}

export class HostileCrowdProcess {
  readonly #process: PinnedProcess;
  readonly #events: AsyncIterator<string>;

  private constructor(process: PinnedProcess) {
    this.#process = process;
    this.#events = createInterface({ input: process.child.stdout! })[Symbol.asyncIterator]();
  }

  /** Whether the crowd runs at the lowest priority (false where autogroups are off). */
  get lowestPriority(): boolean {
    return this.#process.prioritised;
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
        LOWEST_PRIORITY,
      ),
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

/**
 * The hostile crowd's own process (hostile-crowd-process.ts starts it from the load generator).
 * Why not the load generator's event loop: there the crowd's callbacks (flooders reading the live
 * stream, reconnecting, bursting) ran between the honest listeners' reads, so some of a hostile
 * row's extra delay was the generator's and not the relay's: on a real server the hostile clients
 * do not share a CPU with the honest ones. In its own process, pinned to the generator's core
 * under SCHED_IDLE (hostile-crowd-process.ts), it gives the core up whenever the generator wakes.
 *
 * Stdin/stdout, one JSON line each way: the config in → `opened` once every connection is up;
 * `stop` in → `stopped` with its counts and its own CPU, and the process exits.
 */
import { createInterface } from 'node:readline';
import {
  HostileCrowd,
  type HostileOnly,
  type HostileStats,
  type HostileTarget,
} from './hostile-crowd.ts';

export interface CrowdConfig {
  count: number;
  target: HostileTarget;
  only?: HostileOnly;
}

export type CrowdEvent =
  | { event: 'opened' }
  | { event: 'stopped'; stats: HostileStats; cpuPct: number }
  | { event: 'error'; message: string };

function emit(e: CrowdEvent): void {
  process.stdout.write(JSON.stringify(e) + '\n');
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
let crowd: HostileCrowd | null = null;
try {
  const first = await lines.next();
  if (first.done) throw new Error('no config on stdin');
  const config = JSON.parse(first.value) as CrowdConfig;
  crowd = new HostileCrowd(config.target);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await crowd.start(config.count, config.only);
  emit({ event: 'opened' });
  // Any line, or the end of stdin (the load generator gone), stops the crowd.
  await lines.next();
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
  crowd.close();
  emit({ event: 'stopped', stats: crowd.stats(), cpuPct });
} catch (err) {
  emit({ event: 'error', message: (err as Error).message });
  process.exitCode = 1;
} finally {
  crowd?.close();
  process.stdin.destroy();
}

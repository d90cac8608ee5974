/**
 * `mxcast relay --workers N`: N relay processes behind one port, so one machine uses every core
 * (docs/operations.md "Cluster": "Every core").
 *
 * node:cluster, not SO_REUSEPORT: Node 20 has no `reusePort` listen option (it came in Node 22.12
 * / 23.1), and node:cluster's primary accepts each connection and hands it to the workers in turn
 * (round-robin, the default scheduling on Linux), which spreads long-lived listener and upload
 * connections evenly where the kernel's SO_REUSEPORT hash would not look at load at all. The cost
 * is one descriptor pass per connection in the primary, small next to a connection's lifetime.
 *
 * Each worker is an ordinary relay node of the cluster (`--cluster`): state lives in JetStream, so
 * any worker serves any upload or listener, and each tails a live media once for its own
 * listeners. In embedded mode (SQLite + append-only files under one data-dir lock, owned by one
 * process) more than one worker is refused.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CliError } from './command-kit.ts';

/** `--workers N|auto` (auto: one per core); 1 when not given. */
export function parseWorkers(text: string | undefined): number {
  if (text === undefined) return 1;
  if (text === 'auto') return availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new CliError(`--workers must be 1..256 or auto, got '${text}'`);
  return n;
}

/** True in a process forked by `runRelayWorkers`: it runs the relay, the primary speaks for it. */
export const isRelayWorker = cluster.isWorker;

/**
 * A worker's own data dir under `dataDir` (`worker-<slot>`): a cluster node keeps a local cache
 * there under a lock of one process. A replacement worker takes the slot of the one that died.
 */
export function workerDataDir(dataDir: string): string {
  return join(dataDir, `worker-${process.env.MXCAST_WORKER_SLOT ?? cluster.worker?.id ?? 0}`);
}

export interface RelayWorkersOptions {
  count: number;
  /** The URL to print once every worker listens, from the port they share. */
  urlFor: (port: number) => string;
  /** A line for the operator (stderr). */
  log: (line: string) => void;
}

/**
 * The primary: forks `count` workers (this same command line), prints the URL once all of them
 * listen, replaces a worker that dies (unless they keep dying at start), and on SIGINT/SIGTERM
 * stops them all (each closes cleanly) before returning the exit code.
 */
export async function runRelayWorkers(options: RelayWorkersOptions): Promise<number> {
  const { count, log } = options;
  let stopping = false;
  let printed = false;
  const listening = new Set<Worker>();
  let quickDeaths = 0;
  let failed: ((err: Error) => void) | undefined;

  const fork = (slot: number) => {
    const started = Date.now();
    const worker = cluster.fork({ MXCAST_WORKER_SLOT: String(slot) });
    worker.on('listening', (address) => {
      listening.add(worker);
      if (!printed && listening.size >= count) {
        printed = true;
        process.stdout.write(`${options.urlFor(address.port)}\n`);
      }
    });
    worker.on('exit', (code, signal) => {
      listening.delete(worker);
      if (stopping) return;
      // A worker that dies before it listened (bad config, the cluster unreachable) would die
      // again: give up after a few rather than fork forever.
      if (Date.now() - started < 5000 && ++quickDeaths >= count + 2) {
        failed?.(new Error(`relay workers keep exiting at start (last: ${signal ?? code})`));
        return;
      }
      log(`worker ${worker.process.pid} exited (${signal ?? code}): starting another`);
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, 500);
    });
  };

  for (let i = 0; i < count; i++) fork(i + 1);
  const outcome = await new Promise<number>((resolve) => {
    failed = (err) => {
      log(err.message);
      resolve(1);
    };
    const stop = () => resolve(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  stopping = true;
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          // A clean stop first; a worker still running 10 s later is killed, so the stop is bounded.
          const force = setTimeout(() => w.process.kill('SIGKILL'), 10_000);
          w.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          w.process.kill('SIGTERM');
        }),
    ),
  );
  if (outcome !== 0) throw new CliError('cannot start: the relay workers did not start', 1);
  return outcome;
}

/**
 * The cluster suite's loopback cluster (docs/operations.md "Cluster"): three `nats-server`
 * processes forming one JetStream cluster (Raft meta group, replicated streams and buckets) and
 * three `mxcast relay --cluster …` nodes on free ports, with `kill -9` helpers for either kind and
 * cleanup when the file's tests end (or the worker exits). Startup is a few seconds: the NATS
 * servers elect a meta leader in under a second on loopback, then the relays start in parallel.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  bin,
  freePort,
  killAndWait,
  spawnUntilListening,
  tempDir,
  useStarted,
} from '../capture/capture-harness.ts';
import { startNatsCluster, track, type NatsCluster } from './nats-cluster.ts';

export {
  NATS_SERVER,
  startNatsCluster,
  waitFor,
  type NatsCluster,
  type NatsServer,
} from './nats-cluster.ts';

export interface RelayNode {
  name: string;
  url: string;
  port: number;
  readonly child: ChildProcess;
  readonly stderr: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (a node coming back). */
  restart(): Promise<void>;
}

export interface RelayNodeOptions {
  /** Further `mxcast relay` arguments (e.g. `--workers 2`). */
  args?: string[];
  /** Written to a `--config` JSON file (docs/operations.md "Configuration file"). */
  config?: Record<string, unknown>;
}

/** One `mxcast relay --cluster URLS` node on a free port; stateless, so no data of its own. */
export async function startRelayNode(
  nats: NatsCluster,
  name: string,
  options: RelayNodeOptions = {},
): Promise<RelayNode> {
  const port = await freePort();
  // A data dir all the same, so nothing a node might still write lands in the checkout.
  const dataDir = tempDir('mxcast-node-');
  const args = ['relay', '--cluster', nats.urls, '--port', String(port), '--host', '127.0.0.1'];
  args.push('--data', dataDir, ...(options.args ?? []));
  if (options.config) {
    const file = path.join(dataDir, 'relay.json');
    writeFileSync(file, JSON.stringify(options.config));
    args.push('--config', file);
  }
  let stderr = '';
  const spawnIt = async () => {
    const child = await spawnUntilListening(args, port, (s) => {
      stderr = (stderr + s).slice(-256 * 1024);
    });
    track(child);
    return child;
  };
  let child = await spawnIt();
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    get child() {
      return child;
    },
    get stderr() {
      return stderr;
    },
    kill: (signal = 'SIGKILL') => killAndWait(child, signal),
    async restart() {
      child = await spawnIt();
    },
  };
}

/**
 * `mxcast token create USER --cluster URLS`: a token in the cluster's token bucket, valid on
 * every node (docs/operations.md "Cluster").
 */
export function clusterToken(nats: NatsCluster, user = '@broadcaster:localhost'): string {
  let last = '';
  // Right after the meta leader is elected JetStream may still answer "not enabled" for a moment.
  for (let attempt = 0; attempt < 20; attempt++) {
    const run = spawnSync(
      process.execPath,
      [bin, 'token', 'create', user, '--cluster', nats.urls],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    const token = run.stdout.trim();
    if (run.status === 0 && token) return token;
    last = `exited ${run.status}: ${run.stderr}`;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  }
  throw new Error(`token create --cluster ${last}`);
}

export interface LoopbackCluster {
  nats: NatsCluster;
  /** Relay nodes A, B, C. */
  nodes: RelayNode[];
  /** An upload token of `@broadcaster:localhost`, good on every node. */
  token: string;
  close(): Promise<void>;
}

export interface LoopbackClusterOptions extends RelayNodeOptions {
  relays?: number;
}

/** Three NATS servers and three relay nodes (or `relays`). */
export async function startLoopbackCluster(
  options: LoopbackClusterOptions = {},
): Promise<LoopbackCluster> {
  const nats = await startNatsCluster(3);
  const nodes: RelayNode[] = [];
  try {
    const names = ['A', 'B', 'C', 'D', 'E'].slice(0, options.relays ?? 3);
    nodes.push(...(await Promise.all(names.map((n) => startRelayNode(nats, n, options)))));
    const token = clusterToken(nats);
    return {
      nats,
      nodes,
      token,
      async close() {
        await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
        await nats.close();
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await nats.close();
    throw err;
  }
}

/** Starts the loopback cluster before the file's tests and stops it after them. */
export function useLoopbackCluster(options: LoopbackClusterOptions = {}): () => LoopbackCluster {
  return useStarted(
    'the loopback cluster',
    () => startLoopbackCluster(options),
    (c) => c.close(),
  );
}

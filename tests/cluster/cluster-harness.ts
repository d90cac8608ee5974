/**
 * The cluster suite's loopback cluster (docs/operations.md "Cluster"): three `nats-server`
 * processes forming one JetStream cluster (Raft meta group, replicated streams and buckets) and
 * three `mxcast relay --cluster …` nodes on free ports, with `kill -9` helpers for either kind and
 * cleanup when the file's tests end (or the worker exits). Startup is a few seconds: the NATS
 * servers elect a meta leader in under a second on loopback, then the relays start in parallel.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  bin,
  freePort,
  killAndWait,
  spawnUntilListening,
  tempDir,
  useStarted,
} from '../capture/capture-harness.ts';

/** Debian installs it in /usr/sbin, which a non-root PATH may lack (scripts/setup.sh). */
export const NATS_SERVER =
  ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find(existsSync) ?? 'nats-server';

export interface NatsServer {
  name: string;
  /** Client port: `nats://127.0.0.1:PORT`. */
  port: number;
  url: string;
  /** HTTP monitoring port (`/jsz`, `/healthz`). */
  monitorPort: number;
  readonly child: ChildProcess;
  readonly log: string;
  /** `kill -9` (or another signal); resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same config and store dir (it rejoins the cluster). */
  restart(): Promise<void>;
}

export interface NatsCluster {
  servers: NatsServer[];
  /** Every server's client URL, comma-separated: the value of `mxcast relay --cluster`. */
  urls: string;
  /** Resolves once every running server names the same JetStream meta leader. */
  waitForLeader(ms?: number): Promise<string>;
  close(): Promise<void>;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

/** Three (or `size`) nats-server processes with JetStream, routed to each other on loopback. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = tempDir('mxcast-nats-');
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      client: await freePort(),
      cluster: await freePort(),
      monitor: await freePort(),
    })),
  );
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.cluster}`).join(', ');
  const servers = ports.map((p, i): NatsServer => {
    const name = `n${i + 1}`;
    const storeDir = path.join(dir, name);
    mkdirSync(storeDir, { recursive: true });
    const conf = path.join(dir, `${name}.conf`);
    // The same shape as the three-server example in docs/operations.md "Cluster".
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `http: 127.0.0.1:${p.monitor}`,
        `jetstream { store_dir: "${storeDir}", max_memory_store: 64MB, max_file_store: 1GB }`,
        `cluster { name: mxcast-test, listen: 127.0.0.1:${p.cluster}, routes: [${routes}] }`,
        '',
      ].join('\n'),
    );
    let log = '';
    const spawnIt = () => {
      const child = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (d: Buffer) => {
        log = (log + d.toString()).slice(-64 * 1024);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      track(child);
      return child;
    };
    let child = spawnIt();
    return {
      name,
      port: p.client,
      url: `nats://127.0.0.1:${p.client}`,
      monitorPort: p.monitor,
      get child() {
        return child;
      },
      get log() {
        return log;
      },
      kill: (signal = 'SIGKILL') => killAndWait(child, signal),
      async restart() {
        child = spawnIt();
        await waitFor(`${name} to answer /healthz`, 10_000, async () => {
          const res = await fetch(`http://127.0.0.1:${p.monitor}/healthz`).catch(() => null);
          return res?.ok === true;
        });
      },
    };
  });
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url).join(','),
    async waitForLeader(ms = 15_000) {
      let leader = '';
      await waitFor('a JetStream meta leader', ms, async () => {
        const running = servers.filter((s) => s.child.exitCode === null && !s.child.signalCode);
        const seen = await Promise.all(
          running.map(async (s) => {
            const res = await fetch(`http://127.0.0.1:${s.monitorPort}/jsz`).catch(() => null);
            const jsz = res?.ok ? ((await res.json()) as Jsz) : {};
            return jsz.meta_cluster?.leader ?? '';
          }),
        );
        leader = seen[0] ?? '';
        // After a kill -9 the others name the dead leader until their Raft timers run out.
        const alive = running.some((s) => s.name === leader);
        return alive && seen.every((l) => l === leader);
      });
      return leader;
    },
    async close() {
      await Promise.all(servers.map((s) => s.kill('SIGKILL')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitForLeader();
  } catch (err) {
    const logs = servers.map((s) => `--- ${s.name}\n${s.log}`).join('\n');
    await cluster.close();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return cluster;
}

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
  const run = spawnSync(process.execPath, [bin, 'token', 'create', user, '--cluster', nats.urls], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const token = run.stdout.trim();
  if (run.status !== 0 || !token)
    throw new Error(`token create --cluster exited ${run.status}: ${run.stderr}`);
  return token;
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

/** Polls `check` every 50 ms until it holds, or fails naming `what` after `ms`. */
export async function waitFor(
  what: string,
  ms: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Children still running when the worker exits (a crashed test, a timeout) are killed with it,
// so a failed run leaves no nats-server or relay behind holding ports.
const children = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * A JetStream cluster of `nats-server` processes on loopback (docs/operations.md "Cluster"): a
 * generated config per server (`jetstream {store_dir}`, `cluster {name, listen, routes}`,
 * `server_name`, monitoring port), free ports, a wait for the Raft meta leader through the
 * monitoring endpoint (`/jsz`), `kill -9` and restart of one server. No vitest in here: the
 * cluster tests (cluster-harness.ts) and `pnpm bench cluster` both start it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

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

/**
 * Three (or `size`) nats-server processes with JetStream, routed to each other on loopback. A
 * start that fails (a port taken between choosing and binding it) is tried again on new ports.
 */
export async function startNatsCluster(
  size = 3,
  options: { wrap?: string[] } = {},
): Promise<NatsCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(size, options);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startNatsClusterOnce(
  size: number,
  options: { wrap?: string[] },
): Promise<NatsCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mxcast-nats-'));
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
      // `wrap`: a command to run it under (the bench pins it to a core with taskset -c).
      const [command = NATS_SERVER, ...args] = [...(options.wrap ?? []), NATS_SERVER, '-c', conf];
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
    // Every server up and in the meta group: a server that lost its port to another process (free
    // ports race between parallel test files) leaves two that agree on a leader, and every R3
    // asset then fails placement ("no suitable peers") for as long as the relay retries.
    await waitFor(`all ${size} servers in the JetStream meta group`, 15_000, async () => {
      const sizes = await Promise.all(
        servers.map(async (s) => {
          if (s.child.exitCode !== null || s.child.signalCode) throw new Error(`${s.name} exited`);
          const res = await fetch(`http://127.0.0.1:${s.monitorPort}/jsz`).catch(() => null);
          const jsz = res?.ok ? ((await res.json()) as Jsz) : {};
          return jsz.meta_cluster?.cluster_size ?? 0;
        }),
      );
      return sizes.every((n) => n >= size);
    });
  } catch (err) {
    const logs = servers.map((s) => `--- ${s.name}\n${s.log}`).join('\n');
    await cluster.close();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return cluster;
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
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

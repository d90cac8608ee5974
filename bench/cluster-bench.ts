/**
 * `pnpm bench cluster`: a relay cluster on NATS JetStream (docs/operations.md "Cluster") against
 * the single-process relay, in one run and with the fan-out bench's load generator (raw-socket
 * WebSocket listeners measuring relay-added delay, bench/fanout/):
 * 1. relay-added delay p50/p99 at one N (voice): upload and listeners on one embedded relay,
 *    against upload on node A and listeners on node B, which tails the media through JetStream
 *    (target: cluster p99 at most 5 ms more);
 * 2. the JetStream write and read cost per block through the relay's own cluster store
 *    (bench/cluster/jetstream-cost.ts), replicas = min(3, nats-servers);
 * 3. listeners per node at p99 ≤ 100 ms (voice): N steps on node B, and on the single relay,
 *    until a step fails.
 * Every row starts fresh relay processes (the nats-servers stay up for the run; each row has its
 * own media). Options: bench/cluster/cluster-plan.ts (`--nats= --delay-n= --n= --hold=`); a run
 * narrowed by them is printed, not recorded. CPU placement: cluster-plan.ts placeProcesses.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { BenchOptions, BenchResult } from './bench-kit.ts';
import {
  capacityNotes,
  capacityTable,
  costTable,
  delayNotes,
  delayTable,
  failure,
  type ClusterRow,
  type Setup,
} from './cluster/cluster-report.ts';
import {
  parsePlan,
  placeProcesses,
  type ClusterPlan,
  type CpuPlacement,
} from './cluster/cluster-plan.ts';
import { clusterServer, clusterToken, startClusterRelay } from './cluster/cluster-nodes.ts';
import {
  idleRate,
  measureJetStreamCost,
  natsCpuUs,
  streamReplicas,
  type CostRow,
} from './cluster/jetstream-cost.ts';
import { cpuSeconds } from './fanout/process-stats.ts';
import { watchHold } from './cluster/hold-window.ts';
import { FANOUT_PRESETS } from './fanout/fanout-presets.ts';
import { runScenario, spawnLoadGenerator } from './fanout/fanout-scenario.ts';
import { startServer } from './fanout/fanout-servers.ts';
import { createRelayDataTemplate, type RelayDataTemplate } from './fanout/relay-server.ts';
import { startNatsCluster, type NatsCluster } from '../tests/cluster/nats-cluster.ts';
import { BLOCK_STREAM } from '../apps/relay/src/storage/jetstream-media-storage.ts';

const preset = FANOUT_PRESETS.voice;
/** File descriptors the listeners' process keeps besides its listener sockets. */
const FD_HEADROOM = 200;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function fdLimit(): number {
  try {
    return Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

interface Ctx {
  plan: ClusterPlan;
  place: CpuPlacement;
  nats: NatsCluster;
  token: string;
  relayData: RelayDataTemplate;
  /** The nats-servers' idle CPU µs per wall ms (Raft heartbeats), measured once at the start. */
  natsIdleUsPerMs: number;
  /** The block stream's replicas as the servers report them (NaN until a node created it). */
  replicas: number;
  /** Node A's cost per block in the cluster delay row (set by it). */
  inSitu?: CostRow;
}

/** One row: fresh relay process(es), a fresh load generator, N listeners held `holdMs`. */
async function runRow(
  ctx: Ctx,
  setup: Setup,
  phase: ClusterRow['phase'],
  listeners: number,
): Promise<ClusterRow> {
  const row: ClusterRow = { phase, setup, listeners };
  process.stderr.write(`cluster: ${phase} ${setup} N=${listeners}…\n`);
  const gen = spawnLoadGenerator();
  const stops: (() => Promise<void>)[] = [];
  let uploadNodePid: number | null = null;
  try {
    let server;
    if (setup === 'single') {
      server = await startServer('relay-ws', preset, null, ctx.relayData, listeners);
      stops.push(server.close);
    } else {
      const [a, b] = await Promise.all([
        startClusterRelay('A', ctx.nats.urls, ctx.place.uploadNode),
        startClusterRelay('B', ctx.nats.urls, ctx.place.listenerNode),
      ]);
      stops.push(a.stop, b.stop);
      server = await clusterServer(a, b, ctx.token, preset);
      uploadNodePid = a.pid;
    }
    // Node A's and the nats-servers' CPU over the hold: neither depends on the listener count
    // (A has none; JetStream serves B's one tail), so the delay row's hold is their per-block cost.
    const natsPids = ctx.nats.servers.map((s) => s.child.pid as number);
    const nodeA = uploadNodePid;
    const hold =
      nodeA !== null && phase === 'delay' && gen.child.stdout
        ? watchHold(gen.child.stdout, () => [cpuSeconds(nodeA) * 1e6, natsCpuUs(natsPids)])
        : null;
    row.result = await runScenario(server, gen, {
      preset: 'voice',
      listeners,
      holdMs: ctx.plan.holdMs,
      graceMs: ctx.plan.graceMs,
      joinBudgetMs: ctx.plan.joinBudgetMs,
    });
    const window = hold?.result();
    if (window) {
      ctx.replicas =
        (await streamReplicas(ctx.nats.servers[0]?.monitorPort ?? 0, BLOCK_STREAM)) ?? Number.NaN;
      const blocks = Math.max(1, row.result.windowBlocks);
      const [aUs = 0, natsUs = 0] = window.cpuUs;
      ctx.inSitu = {
        operation: 'upload',
        blocks,
        blockBytes: preset.blockBytes,
        replicas: ctx.replicas,
        wallUsPerBlock: Number.NaN,
        relayCpuUsPerBlock: aUs / blocks,
        natsCpuUsPerBlock: Math.max(0, natsUs - ctx.natsIdleUsPerMs * window.wallMs) / blocks,
      };
    }
  } catch (err) {
    row.error = (err as Error).message.slice(0, 400);
  } finally {
    await gen.stop();
    await Promise.all(stops.map((s) => s()));
  }
  const r = row.result;
  process.stderr.write(
    `cluster:   ${r ? `held ${r.held}, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, lost ${r.lostBlocks}, dropped ${r.dropped}` : row.error}\n`,
  );
  return row;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const { plan, given } = parsePlan(options.quick, process.argv.slice(2));
  const cpus = os.cpus();
  const machine = {
    cores: cpus.length,
    model: cpus[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAtStart: os.loadavg(),
  };
  const taskset = hasTaskset();
  const place = placeProcesses(machine.cores, plan.nats, taskset);
  const maxN = fdLimit() - FD_HEADROOM;
  const notes: string[] = [];
  const rows: ClusterRow[] = [];
  let cost: CostRow[] = [];
  const started = performance.now();
  const nats = await startNatsCluster(plan.nats, {
    ...(place.natsCores ? { wrap: ['taskset', '-c', place.natsCores] } : {}),
  });
  let relayData: RelayDataTemplate | null = null;
  try {
    relayData = await createRelayDataTemplate();
    const token = await clusterToken(nats.urls);
    const natsPids = nats.servers.map((s) => s.child.pid as number);
    const ctx: Ctx = {
      plan,
      place,
      nats,
      token,
      relayData,
      natsIdleUsPerMs: await idleRate(natsPids, 1000),
      replicas: Number.NaN,
    };
    // 1. Like for like at one N: the single relay first, then the cluster.
    for (const setup of ['single', 'cluster'] as const)
      rows.push(await runRow(ctx, setup, 'delay', plan.delayListeners));
    // 2. The JetStream cost per block, on the same servers.
    try {
      cost = await measureJetStreamCost({
        servers: nats.urls.split(','),
        natsPids,
        monitorPort: nats.servers[0]?.monitorPort ?? 0,
        replicas: plan.replicas,
        blocks: plan.costBlocks,
        blockBytes: preset.blockBytes,
      });
    } catch (err) {
      notes.push(
        `The JetStream cost could not be measured: ${(err as Error).message.slice(0, 300)}`,
      );
    }
    if (ctx.inSitu) cost.push(ctx.inSitu);
    // 3. Listener steps on node B, then on the single relay, each until a step fails.
    for (const setup of ['cluster', 'single'] as const) {
      for (const n of plan.steps) {
        if (n > maxN) {
          notes.push(
            `N = ${n} skipped: the file-descriptor limit (ulimit -Hn) allows ${maxN + FD_HEADROOM}.`,
          );
          break;
        }
        const row = await runRow(ctx, setup, 'capacity', n);
        rows.push(row);
        if (failure(row) !== null) break;
      }
    }
  } catch (err) {
    notes.push(`The run stopped early: ${(err as Error).message.slice(0, 400)}`);
  } finally {
    await relayData?.dispose();
    await nats.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const loadAfter = os.loadavg();
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ');
  const hold = `${plan.holdMs / 1000} s hold per row`;
  return {
    name: 'cluster',
    title:
      'Cluster on NATS JetStream: a node tailing through JetStream vs the single-process relay',
    tables: [
      delayTable(
        rows,
        `Relay-added delay, voice (${preset.blockBytes}-byte blocks every ${preset.blockIntervalMs} ms), ${plan.delayListeners} WebSocket listeners, ${hold}`,
      ),
      costTable(
        cost,
        `JetStream cost per block: ${plan.nats} nats-servers, block stream replicas ${cost[0]?.replicas ?? '—'} (as /jsz reports it), ${preset.blockBytes}-byte blocks one at a time`,
      ),
      capacityTable(rows, `Listeners per node at p99 ≤ 100 ms, voice, WebSocket, ${hold}`),
    ],
    notes: [
      ...delayNotes(rows),
      ...capacityNotes(rows),
      "Delay = arrival of a block's last byte at the listener − the uploader's send time of that block, on loopback (CLOCK_MONOTONIC, one machine), as in the fan-out bench; in the cluster rows the block goes upload → node A → JetStream (replicated to every replica before the ack) → node B's one tail → node B's hub → listeners.",
      "JetStream cost: the relay's own store (JetStreamMediaStorage) in the bench process, which does nothing else meanwhile (\"relay CPU\"); nats-servers CPU is all servers together from /proc/PID/stat (10 ms ticks), their idle rate measured just before subtracted. The tail row spreads its set-up (index refresh, consumer create) over its blocks. The last row is a whole node A (its process tree) over the cluster delay row's hold, per block sent in it, so it also carries what the node spends idle meanwhile (timers); the nats-servers' CPU over the same hold (idle rate subtracted) also carries node B's polling of the media row (every 250 ms while unfinished, docs/architecture.md) — the cost of one live broadcast through the cluster, not of the append alone.",
      place.dedicated
        ? `Placement: node B and the single relay on core ${place.listenerNode}, the load generator on core ${place.loadGenerator}, node A on core ${place.uploadNode}, the nats-servers on cores ${place.natsCores} (taskset): every process has a core of its own.`
        : `Placement: node B and the single relay on core ${place.listenerNode}, the load generator on core ${place.loadGenerator}; node A and the ${plan.nats} nats-servers unpinned, sharing the machine's ${machine.cores} cores with them. On this machine the scaling across processes cannot show: the cluster rows pay for node A's and the nats-servers' work on the same cores as node B and the load generator. With ${3 + plan.nats} or more cores the same command gives each its own core.`,
      `Machine: ${machine.cores} cores (${machine.model}), ${machine.memGiB} GiB; load average ${load(machine.loadAtStart)} at start, ${load(loadAfter)} at the end; the run took ${Math.round(seconds)} s.`,
      ...notes,
    ],
    raw: { plan, machine, placement: place, rows, cost, seconds, loadAfter },
    ...(given.length ? { partial: `a subset: ${given.join(' ')}` } : {}),
  };
}

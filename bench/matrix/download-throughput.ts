/**
 * The throughput part of `pnpm bench matrix` (docs/matrix.md "Homeserver mode"): the relay's
 * download throughput in homeserver mode against standalone mode in the same run. Target:
 * homeserver ≥ 0.95× standalone — every download's token is checked (Matrix 1.11 authenticated
 * media, MSC3916), but from the whoami cache (apps/relay/src/core/homeserver-auth.ts).
 *
 * Two relays as users run them, `mxcast relay` in processes of their own pinned to one core,
 * each holding the same complete media: one standalone (anonymous downloads), one with
 * `--homeserver` pointing at the real Synapse of the go-live part's stack, so the homeserver-mode
 * relay checks the listener's real Matrix access token; the cache makes that one whoami per
 * token per TTL, counted from the relay's /metrics (mxcast_whoami_total).
 *
 * Two sizes: a 64 KiB media (many requests: the per-request token check weighs most) and a
 * 4 MiB one (bytes). C concurrent clients with keep-alive GET the whole file again and again for
 * a fixed time; rounds alternate standalone / homeserver so drift of a shared machine hits both.
 * Besides throughput, each relay's CPU time per request (/proc/PID/stat, proc(5)) is reported:
 * on a loaded machine the ratio of CPU per request is the steadier figure of what the token
 * check costs.
 *
 * Run alone (its own stack; no results written): `npx tsx bench/matrix/download-throughput.ts
 * [--quick]`; MXCAST_BENCH_RELAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles both relays.
 */
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startCliRoom } from '../../tests/matrix/matrix-cli-kit.ts';
import { renderTable, round, type BenchTable } from '../bench-kit.ts';
import {
  cpuMicros,
  createRelayToken,
  mediaOf,
  startBenchRelay,
  upload,
  whoamiSent,
  type BenchRelay,
} from './bench-relay.ts';

const CLIENTS = 8;

export interface ThroughputOptions {
  quick: boolean;
  /** The homeserver the homeserver-mode relay asks whoami (Synapse's own URL). */
  homeserverUrl: string;
  /** A Matrix access token the homeserver knows: uploads the media to the homeserver-mode relay. */
  uploaderToken: string;
  /** Another user's token: the listener's, sent with every homeserver-mode download. */
  listenerToken: string;
  log?: (line: string) => void;
}

export interface ThroughputResult {
  table: BenchTable;
  /** Homeserver / standalone bytes per second, per size. */
  ratios: number[];
  /** Homeserver / standalone relay CPU µs per request, per size. */
  cpuRatios: number[];
}

interface Target {
  mode: 'standalone' | 'homeserver';
  relay: BenchRelay;
  path: string;
  headers: Record<string, string>;
}

interface RoundFigures {
  requests: number;
  bytes: number;
  cpuUs: number;
}

/** GETs the file back to back on `CLIENTS` keep-alive connections for `ms`. */
async function hammer(t: Target, ms: number): Promise<RoundFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const url = new URL(t.relay.url);
  const end = performance.now() + ms;
  let requests = 0;
  let bytes = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: t.path, headers: t.headers, agent },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`${t.mode}: HTTP ${res.statusCode}`));
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => {
            requests++;
            resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const client = async () => {
    while (performance.now() < end) await one();
  };
  const cpu0 = cpuMicros(t.relay.proc.pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const took = performance.now() - t0;
  const cpuUs = cpuMicros(t.relay.proc.pid) - cpu0;
  agent.destroy();
  return {
    requests: (requests * ms) / took,
    bytes: (bytes * ms) / took,
    cpuUs: (cpuUs * ms) / took,
  };
}

export async function downloadThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  // Many short rounds rather than a few long ones: a shared machine's load drifts within seconds,
  // and the more often the modes alternate, the more evenly a drift falls on both.
  const roundMs = options.quick ? 1000 : 2500;
  const rounds = options.quick ? 2 : 8; // even: each mode goes first equally often
  const sizes = [64 * 1024, 4 * 1024 * 1024];
  const standalone = await startBenchRelay('standalone', []);
  const homeserver = await startBenchRelay('homeserver', [
    '--homeserver',
    options.homeserverUrl,
  ]).catch(async (err: unknown) => {
    await standalone.close();
    throw err;
  });
  const rows: (string | number)[][] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  try {
    const relayToken = await createRelayToken(standalone);
    for (const size of sizes) {
      const body = mediaOf(size);
      const targets: Target[] = [
        {
          mode: 'standalone',
          relay: standalone,
          path: await upload(standalone.url, relayToken, body),
          headers: {},
        },
        {
          mode: 'homeserver',
          relay: homeserver,
          path: await upload(homeserver.url, options.uploaderToken, body),
          headers: { authorization: `Bearer ${options.listenerToken}` },
        },
      ];
      const whoamiBefore = await whoamiSent(homeserver.url, options.listenerToken);
      // Warm-up (JIT, connections, the whoami cache) outside the measured rounds.
      for (const t of targets) await hammer(t, 500);
      const zero = () => ({ requests: 0, bytes: 0, cpuUs: 0 });
      const sum = { standalone: zero(), homeserver: zero() };
      const add = (t: Target, got: RoundFigures) => {
        sum[t.mode].requests += got.requests;
        sum[t.mode].bytes += got.bytes;
        sum[t.mode].cpuUs += got.cpuUs;
      };
      for (let r = 0; r < rounds; r++) {
        // Alternate which mode goes first, so a trend on the machine favours neither.
        const order = r % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) add(t, await hammer(t, roundMs));
      }
      const seconds = (rounds * roundMs) / 1000;
      const usPerRequest = (mode: 'standalone' | 'homeserver') =>
        sum[mode].cpuUs / Math.max(1, sum[mode].requests);
      for (const mode of ['standalone', 'homeserver'] as const) {
        rows.push([
          `${size / 1024} KiB`,
          mode,
          round(sum[mode].requests / seconds, 0),
          round(sum[mode].bytes / seconds / 1024 ** 2, 1),
          round(usPerRequest(mode), 0),
        ]);
      }
      const ratio = sum.homeserver.bytes / sum.standalone.bytes;
      const cpuRatio = usPerRequest('homeserver') / usPerRequest('standalone');
      ratios.push(ratio);
      cpuRatios.push(cpuRatio);
      rows.push([
        `${size / 1024} KiB`,
        'homeserver / standalone',
        round(ratio, 3),
        '',
        round(cpuRatio, 3),
      ]);
      const whoami = (await whoamiSent(homeserver.url, options.listenerToken)) - whoamiBefore;
      // The listener's token was checked before (the /metrics read): 0 means every download of the
      // rounds was answered from the cache; 1 when the TTL (60 s) ran out during them.
      rows.push([`${size / 1024} KiB`, 'whoami sent to Synapse during the rounds', whoami, '', '']);
      // Printed as soon as measured: a later part that fails must not lose these figures.
      const line = (mode: 'standalone' | 'homeserver') =>
        `${mode} ${round(sum[mode].requests / seconds, 0)} req/s, ` +
        `${round(sum[mode].bytes / seconds / 1024 ** 2, 1)} MiB/s, ${round(usPerRequest(mode), 0)} µs CPU/req`;
      log(
        `matrix throughput ${size / 1024} KiB: ${line('standalone')}; ${line('homeserver')}; ` +
          `ratio ${round(ratio, 3)} (CPU/req ${round(cpuRatio, 3)}); whoami ${whoami}`,
      );
    }
  } finally {
    await Promise.all([standalone.close(), homeserver.close()]);
  }
  return {
    table: {
      title: `${CLIENTS} keep-alive clients, whole-file GETs, ${rounds} × ${roundMs / 1000} s per mode and size; each relay its own process on one core`,
      columns: ['media', 'mode', 'requests/s', 'MiB/s', 'relay CPU µs/request'],
      rows,
    },
    ratios,
    cpuRatios,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const room = await startCliRoom();
  try {
    const result = await downloadThroughput({
      quick: process.argv.includes('--quick'),
      homeserverUrl: room.stack.synapseUrl,
      uploaderToken: room.users.alice.accessToken,
      listenerToken: room.users.bob.accessToken,
    });
    process.stdout.write(renderTable(result.table) + '\n');
  } finally {
    await room.stop();
  }
}

/**
 * `pnpm bench matrix` (docs/matrix.md "Homeserver mode"): the relay's download throughput in
 * homeserver mode against standalone mode in the same run. Target: homeserver ≥ 0.95× standalone
 * — every download's token is checked, but from the whoami cache (core/homeserver-auth.ts).
 *
 * Two in-process relays on loopback, each with the same complete media uploaded: one standalone
 * (anonymous downloads), one with `auth.homeserver` pointing at a loopback whoami endpoint
 * (a node:http server answering like Synapse, counting its requests: the bench checks that the
 * cache held, i.e. one whoami per listener token). Not Synapse itself: with the cache, Synapse is
 * asked once per token per TTL, so its speed does not enter the steady-state figure; the matrix
 * stack's end-to-end test covers the real Synapse.
 *
 * Two sizes: a 64 KiB media (many requests: the per-request token check weighs most) and a
 * 4 MiB one (bytes). C concurrent clients with keep-alive GET the whole file again and again for
 * a fixed time; rounds alternate standalone / homeserver so drift of a shared machine hits both.
 *
 * Go-live time, against the real stack (Synapse + nginx + the relay in homeserver mode,
 * tests/matrix/matrix-cli-kit.ts): bob's listener process is synced to the room
 * (tests/matrix/golive-listener.ts); alice's `mxcast capture --homeserver --room` process is
 * started; the time from that spawn to the first PCM at bob's player, per round (wall clock,
 * both on this machine): login, announcement, key to bob's device, first block, decode.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, request, Agent, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import { startCliRoom } from '../tests/matrix/matrix-cli-kit.ts';
import {
  percentile,
  round,
  type BenchOptions,
  type BenchResult,
  type BenchTable,
} from './bench-kit.ts';

const CLIENTS = 8;
const BLOCK_CT = 1015;

interface Target {
  mode: 'standalone' | 'homeserver';
  relay: RunningRelay;
  path: string;
  headers: Record<string, string>;
}

/** A whoami endpoint: `Bearer good-NAME` is @NAME:bench.test; counts requests. */
async function startWhoami(): Promise<{ server: Server; url: string; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    const m = /^Bearer good-(\w+)$/.exec(req.headers.authorization ?? '');
    if (!m) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"errcode":"M_UNKNOWN_TOKEN","error":"unknown"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ user_id: `@${m[1]}:bench.test`, device_id: 'BENCH' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}`, count: () => n };
}

function mediaOf(bytes: number): Buffer {
  const blocks: Uint8Array[] = [MAGIC];
  const count = Math.max(3, Math.floor((bytes - 4) / (BLOCK_CT + 16)));
  for (let seq = 0; seq < count; seq++) blocks.push(encodeBlock(seq, randomBytes(BLOCK_CT)));
  return Buffer.concat(blocks);
}

async function upload(relay: RunningRelay, token: string, body: Buffer): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const created = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: auth,
  });
  if (created.status !== 200) throw new Error(`create: ${created.status}`);
  const mxc = ((await created.json()) as { content_uri: string }).content_uri;
  const serverAndId = mxc.slice('mxc://'.length);
  const put = await fetch(`${relay.url}/_matrix/media/v3/upload/${serverAndId}`, {
    method: 'PUT',
    headers: auth,
    body: new Uint8Array(body),
  });
  if (put.status !== 200) throw new Error(`upload: ${put.status} ${await put.text()}`);
  return `/_matrix/client/v1/media/download/${serverAndId}`;
}

/** GETs the file back to back on `CLIENTS` keep-alive connections for `ms`: requests and bytes. */
async function hammer(t: Target, ms: number): Promise<{ requests: number; bytes: number }> {
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
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const took = performance.now() - t0;
  agent.destroy();
  return { requests: (requests * ms) / took, bytes: (bytes * ms) / took };
}

const here = path.dirname(new URL(import.meta.url).pathname);

/** Go-live rounds on the real stack: capture spawn → first PCM at a listener already synced. */
async function goLive(rounds: number): Promise<{ table: BenchTable; ms: number[] }> {
  const room = await startCliRoom({ relayHomeserver: true });
  const ms: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const listener = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(here, '../tests/matrix/golive-listener.ts'),
          '--homeserver',
          room.stack.url,
          '--user',
          room.users.bob.userId,
          '--password',
          room.users.bob.password,
          '--state-dir',
          path.join(room.work, 'bob-golive'),
          '--room',
          room.roomId,
        ],
        { cwd: path.join(here, '../tests/matrix'), stdio: ['ignore', 'pipe', 'ignore'] },
      );
      let out = '';
      const lineOf = (re: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const check = () => {
            const m = re.exec(out);
            if (m) resolve(m[0]);
          };
          listener.stdout.on('data', (d: Buffer) => ((out += d.toString()), check()));
          listener.once('exit', (code) => reject(new Error(`listener exited ${code}: ${out}`)));
          check();
        });
      await lineOf(/^ready$/m);
      const t0 = Date.now();
      const capture = room.mx('capture', 'alice', [
        '--input',
        'sine:440',
        '--realtime',
        '--duration',
        '20',
        '--preset',
        'voice',
        '--quiet',
      ]);
      const { firstAudioAt } = JSON.parse(await lineOf(/^\{.*\}$/m)) as { firstAudioAt: number };
      ms.push(firstAudioAt - t0);
      capture.child.kill('SIGINT');
      await capture.done;
    }
  } finally {
    await room.stop();
  }
  return {
    table: {
      title: `Go-live: capture spawn → first audio at a listener already synced (${rounds} rounds, real Synapse + nginx + relay on loopback)`,
      columns: ['p50 ms', 'p99 ms', 'min ms', 'max ms'],
      rows: [
        [
          round(percentile(ms, 50), 0),
          round(percentile(ms, 99), 0),
          Math.min(...ms),
          Math.max(...ms),
        ],
      ],
    },
    ms,
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const roundMs = options.quick ? 1000 : 5000;
  const rounds = options.quick ? 2 : 4; // even: each mode goes first equally often
  const sizes = [64 * 1024, 4 * 1024 * 1024];
  const whoami = await startWhoami();
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(os.tmpdir(), 'mxcast-mb-'))));
  const [dirA = '', dirB = ''] = dirs;
  const relayToken = createToken(dirA, '@bench:bench.test');
  // No history rate (limits.historyBytesPerSecond, 64 MiB/s by default): with it both modes
  // read complete media at that same capped rate, and the ratio would be ~1 whatever the token
  // check costs. This bench measures the relay's own work per download.
  const limits = { historyBytesPerSecond: 0 };
  const standalone = await startRelay({
    dataDir: dirA,
    port: 0,
    serverName: 'bench.test',
    limits,
  });
  const homeserver = await startRelay({
    dataDir: dirB,
    port: 0,
    serverName: 'bench.test',
    auth: { homeserver: whoami.url },
    limits,
  });
  const rows: (string | number)[][] = [];
  const ratios: number[] = [];
  try {
    for (const size of sizes) {
      const body = mediaOf(size);
      const targets: Target[] = [
        {
          mode: 'standalone',
          relay: standalone,
          path: await upload(standalone, relayToken, body),
          headers: {},
        },
        {
          mode: 'homeserver',
          relay: homeserver,
          path: await upload(homeserver, 'good-broadcaster', body),
          // One listener token per size: its row shows the whoami that size cost.
          headers: { authorization: `Bearer good-listener${size}` },
        },
      ];
      const whoamiBefore = whoami.count();
      // Warm-up (JIT, connections, the whoami cache's first miss) outside the measured rounds.
      for (const t of targets) await hammer(t, 300);
      const sum = { standalone: { requests: 0, bytes: 0 }, homeserver: { requests: 0, bytes: 0 } };
      for (let r = 0; r < rounds; r++) {
        // Alternate which mode goes first, so a trend on the machine favours neither.
        const order = r % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const got = await hammer(t, roundMs);
          sum[t.mode].requests += got.requests;
          sum[t.mode].bytes += got.bytes;
        }
      }
      const seconds = (rounds * roundMs) / 1000;
      for (const mode of ['standalone', 'homeserver'] as const) {
        rows.push([
          `${size / 1024} KiB`,
          mode,
          round(sum[mode].requests / seconds, 0),
          round(sum[mode].bytes / seconds / 1024 ** 2, 1),
        ]);
      }
      const ratio = sum.homeserver.bytes / sum.standalone.bytes;
      ratios.push(ratio);
      rows.push([`${size / 1024} KiB`, 'homeserver / standalone', round(ratio, 3), '']);
      rows.push([
        `${size / 1024} KiB`,
        'whoami requests at the homeserver',
        whoami.count() - whoamiBefore,
        '',
      ]);
    }
  } finally {
    await Promise.all([standalone.close(), homeserver.close()]);
    whoami.server.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
  const live = await goLive(options.quick ? 1 : 7);
  const worst = Math.min(...ratios);
  return {
    name: 'matrix',
    title:
      'Matrix: relay downloads in homeserver mode (whoami, cached) against standalone; go-live time',
    tables: [
      {
        title: `${CLIENTS} keep-alive clients, whole-file GETs, ${rounds} × ${roundMs / 1000} s per mode and size`,
        columns: ['media', 'mode', 'requests/s', 'MiB/s'],
        rows,
      },
      live.table,
    ],
    notes: [
      `homeserver / standalone throughput: worst ${round(worst, 3)} (target ≥ 0.95): ${worst >= 0.95 ? 'met' : 'NOT met'}`,
      'one whoami per listener token per TTL (the cache); the whoami endpoint is a loopback stand-in, not Synapse',
    ],
    raw: { ratios, goLiveMs: live.ms },
  };
}

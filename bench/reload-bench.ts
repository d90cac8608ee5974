/**
 * `pnpm bench reload` (docs/operations.md "Damage and repair"): what reloading a large complete
 * media costs the relay — wall time until its first reader is answered, and how long the event
 * loop stalls meanwhile (the max delay of perf_hooks' monitorEventLoopDelay, and of a 1 ms
 * setInterval probe: every live fan-out waits that long).
 *
 * One `voice` broadcast (1031-byte blocks, 15 000 an hour) of 1 h and 24 h (quick: 1 h) is
 * uploaded to an in-process relay, which is closed and started again on the same data dir:
 * - "old reload": the synchronous re-scan the relay did before (storage/media-scan.ts: framer
 *   with CRC over every block, sha256 over the file), timed on the same file — its whole duration
 *   was an event-loop stall;
 * - "first read after a restart": stat + block runs from the database, the sha256 checked by
 *   chunked async reads (media-verify.ts) while the reader waits;
 * - "reload after idle eviction" (full run only, 24 h: waits the 60 s idle eviction): same file,
 *   same process: stat + runs, no read at all.
 * The page cache is warm (the file was just written): a cold disk adds read time, not stall.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import { scanMediaFile } from '../apps/relay/src/storage/media-scan.ts';
import { round, table, type BenchOptions, type BenchResult } from './bench-kit.ts';

const P = '/_matrix/media/unstable/org.matrix.msc4016';
const BLOCK_CT = 1015; // + 16-byte header = 1031 bytes, a `voice` block
export const BLOCKS_PER_HOUR = 15_000;
/** MediaStore's idle eviction of finished media (60 s) plus a sweep. */
const EVICTION_WAIT_MS = 62_000;

interface Stall {
  ms: number;
  loopMaxMs: number;
  probeMaxMs: number;
}

/** Runs `work` while measuring the event loop: its duration and the longest stall. */
async function measured(work: () => Promise<void> | void): Promise<Stall> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let probeMax = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    probeMax = Math.max(probeMax, now - last - 1);
    last = now;
  }, 1);
  h.enable();
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  // One more turn so a stall at the very end is seen by both.
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  clearInterval(probe);
  return { ms, loopMaxMs: h.max / 1e6, probeMaxMs: probeMax };
}

async function* voiceStream(blocks: number): AsyncGenerator<Uint8Array> {
  yield MAGIC;
  const batch = 1000;
  for (let seq = 0; seq < blocks; seq += batch) {
    const parts: Uint8Array[] = [];
    for (let s = seq; s < Math.min(seq + batch, blocks); s++)
      parts.push(encodeBlock(s, randomBytes(BLOCK_CT)));
    yield Buffer.concat(parts);
  }
}

/** Uploads a finished `voice` broadcast of `blocks` random blocks; returns its `server/id`. */
export async function uploadVoiceArchive(
  relay: RunningRelay,
  token: string,
  blocks: number,
): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const created = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: auth,
  });
  const { content_uri } = (await created.json()) as { content_uri: string };
  const media = content_uri.slice('mxc://'.length);
  const source = voiceStream(blocks);
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      const next = await source.next();
      if (next.done) c.close();
      else c.enqueue(next.value);
    },
  });
  const res = await fetch(`${relay.url}/_matrix/media/v3/upload/${media}`, {
    method: 'PUT',
    headers: auth,
    body,
    duplex: 'half',
  } as RequestInit);
  if (res.status !== 200) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return media;
}

async function readIndex(relay: RunningRelay, media: string): Promise<void> {
  const res = await fetch(`${relay.url}${P}/index/${media}`);
  const body = (await res.json()) as { state?: string };
  if (res.status !== 200 || body.state !== 'complete')
    throw new Error(`index: ${res.status} ${JSON.stringify(body)}`);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const hours = options.quick ? [1] : [1, 24];
  const rows: (string | number)[][] = [];
  const raw: Record<string, unknown> = {};
  for (const h of hours) {
    const blocks = h * BLOCKS_PER_HOUR;
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-reload-bench-'));
    try {
      const token = createToken(dataDir, '@bench:localhost');
      const limits = { unusedExpiryMs: 1000 }; // sweeps (and idle eviction) every second
      let relay = await startRelay({ dataDir, port: 0, limits });
      const media = await uploadVoiceArchive(relay, token, blocks);
      await relay.close();
      const file = path.join(dataDir, 'media', `${media.split('/')[1]}.mxc`);
      const mb = (blocks * (BLOCK_CT + 16) + 4) / 1e6;

      const old = await measured(() => {
        scanMediaFile(file, 64 * 1024).hasher.digest('base64');
      });
      relay = await startRelay({ dataDir, port: 0, limits });
      const first = await measured(() => readIndex(relay, media));
      let evicted: Stall | null = null;
      if (!options.quick && h === hours[hours.length - 1]) {
        await new Promise((r) => setTimeout(r, EVICTION_WAIT_MS));
        evicted = await measured(() => readIndex(relay, media));
      }
      await relay.close();

      const row = (what: string, s: Stall) => [
        `${h} h (${round(mb, 0)} MB)`,
        what,
        round(s.ms, 1),
        round(s.loopMaxMs, 1),
        round(s.probeMaxMs, 1),
      ];
      rows.push(row('old reload: sync scan (CRC + sha256)', old));
      rows.push(row('first read after restart (stat, runs, async sha256)', first));
      if (evicted) rows.push(row('read after idle eviction (stat, runs)', evicted));
      raw[`${h}h`] = { mb, old, first, evicted };
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return {
    name: 'reload',
    title: 'Reloading a complete media: time to the first answer and event-loop stall',
    tables: [
      table(
        'Reload of a complete `voice` media (in-process relay, warm page cache)',
        ['media', 'path', 'time ms', 'loop max delay ms', '1 ms probe max ms'],
        rows,
      ),
    ],
    notes: [
      'The old reload ran on the event loop: its whole time was a stall for every live fan-out. ' +
        'The new first read after a restart waits for the sha256 check (chunked async reads, ' +
        '512 KiB at a time) without stalling the loop; within the same process a reload after ' +
        'idle eviction reads nothing.',
    ],
    raw,
  };
}

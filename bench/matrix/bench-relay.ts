/**
 * The relays of `pnpm bench matrix`'s throughput part (bench/matrix/download-throughput.ts) and
 * what the bench reads of them: `mxcast relay` in a process of its own pinned to core 0 (as a
 * user runs it), its CPU time from /proc/PID/stat (proc(5)), its whoami count from /metrics,
 * and a complete media uploaded to it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { PinnedProcess } from '../fanout/pinned-process.ts';

const run = promisify(execFile);
const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mxcastBin = path.join(repoRoot, 'apps', 'cli', 'bin', 'mxcast.js');
const BLOCK_CT = 1015;
/** Linux's USER_HZ (proc(5)): CPU times in /proc/PID/stat are in 1/100 s. */
const TICKS_PER_SECOND = 100;

export interface BenchRelay {
  url: string;
  dataDir: string;
  proc: PinnedProcess;
  close(): Promise<void>;
}

/** `mxcast relay` in its own process on core 0 (MXCAST_BENCH_RELAY_NODE_ARGS: e.g. --cpu-prof). */
export async function startBenchRelay(name: string, args: string[]): Promise<BenchRelay> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `mxcast-mb-${name}-`));
  const nodeArgs = (process.env.MXCAST_BENCH_RELAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // No history rate (limits.historyBytesPerSecond, 64 MiB/s by default): with it both modes
  // read complete media at that same capped rate, and the ratio would be ~1 whatever the token
  // check costs. This bench measures the relay's own work per download.
  const config = path.join(dataDir, 'bench-config.json');
  await writeFile(config, JSON.stringify({ limits: { historyBytesPerSecond: 0 } }));
  const proc = new PinnedProcess(
    `${name} relay`,
    0,
    process.execPath,
    [
      ...nodeArgs,
      mxcastBin,
      'relay',
      '--port',
      '0',
      '--data',
      dataDir,
      '--config',
      config,
      ...args,
    ],
    { cwd: repoRoot },
  );
  const url = (await proc.waitForOutput(/http:\/\/127\.0\.0\.1:\d+/, 30_000))[0];
  return {
    url,
    proc,
    dataDir,
    close: async () => {
      await proc.stop(10_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** An upload token of a standalone relay (`mxcast token create`, as its operator makes one). */
export async function createRelayToken(relay: BenchRelay): Promise<string> {
  const { stdout } = await run(process.execPath, [
    mxcastBin,
    'token',
    'create',
    '@bench:bench.test',
    '--data',
    relay.dataDir,
  ]);
  const token = stdout.trim().split(/\s+/).pop();
  if (!token) throw new Error('mxcast token create printed no token');
  return token;
}

/** The relay's CPU time so far, µs (utime + stime). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

/** whoami requests the relay sent so far (/metrics needs a token in homeserver mode). */
export async function whoamiSent(relayUrl: string, token: string): Promise<number> {
  const res = await fetch(`${relayUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const m = /^mxcast_whoami_total\{result="requests"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

export function mediaOf(bytes: number): Buffer {
  const blocks: Uint8Array[] = [MAGIC];
  const count = Math.max(3, Math.floor((bytes - 4) / (BLOCK_CT + 16)));
  for (let seq = 0; seq < count; seq++) blocks.push(encodeBlock(seq, randomBytes(BLOCK_CT)));
  return Buffer.concat(blocks);
}

export async function upload(relayUrl: string, token: string, body: Buffer): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const created = await fetch(`${relayUrl}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: auth,
  });
  if (created.status !== 200) throw new Error(`create: ${created.status} ${await created.text()}`);
  const mxc = ((await created.json()) as { content_uri: string }).content_uri;
  const serverAndId = mxc.slice('mxc://'.length);
  const put = await fetch(`${relayUrl}/_matrix/media/v3/upload/${serverAndId}`, {
    method: 'PUT',
    headers: auth,
    body: new Uint8Array(body),
  });
  if (put.status !== 200) throw new Error(`upload: ${put.status} ${await put.text()}`);
  return `/_matrix/client/v1/media/download/${serverAndId}`;
}

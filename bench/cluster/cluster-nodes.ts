/**
 * The cluster side of `pnpm bench cluster` (docs/operations.md "Cluster"): relay nodes started as
 * a user runs them, `mxcast relay --cluster URLS --port 0 --data DIR`, each in its own session
 * (pinned with taskset when the CPU plan gives it a core), an upload token made in the cluster's
 * token bucket by `mxcast token create --cluster`, and one media created on node A whose upload
 * goes to node A while the listeners join node B — B tails it through JetStream once and fans
 * it out with its own hub (docs/architecture.md "Storage contract and JetStream mapping").
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GEOMETRY_KEY, streamGeometryOf } from '@mxcast/client';
import { relayHeaderEnd } from '../fanout/bench-stream.ts';
import type { FanoutPreset } from '../fanout/fanout-presets.ts';
import type { ServerUnderTest } from '../fanout/fanout-scenario.ts';
import { PRIORITY } from '../fanout/pinned-process.ts';

const execFileAsync = promisify(execFile);
const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mxcastBin = path.join(repoRoot, 'apps', 'cli', 'bin', 'mxcast.js');
const P = '/_matrix/media/unstable/org.matrix.msc4016';

export interface RelayNodeProcess {
  name: string;
  pid: number;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** `taskset -c CORE` in front of a command when a core is given (and taskset exists). */
export function pinned(core: number | null, command: string, args: string[]): [string, string[]] {
  return core === null ? [command, args] : ['taskset', ['-c', String(core), command, ...args]];
}

/** One `mxcast relay --cluster` node; resolves once it printed the URL it listens on. */
export async function startClusterRelay(
  name: string,
  natsUrls: string,
  core: number | null,
): Promise<RelayNodeProcess> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `mxcast-cluster-bench-${name}-`));
  const [command, args] = pinned(core, process.execPath, [
    mxcastBin,
    'relay',
    '--cluster',
    natsUrls,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--data',
    dataDir,
  ]);
  // Its own session (detached), like the fan-out bench's servers, so its autogroup can be raised.
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  try {
    if (child.pid !== undefined) writeAutogroup(child.pid);
    const url = await waitForUrl(child, name, 30_000);
    return {
      name,
      pid: child.pid as number,
      url,
      port: Number(new URL(url).port),
      stop: async () => {
        await stopChild(child);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function writeAutogroup(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(PRIORITY));
  } catch {
    // no autogroups, or not allowed: the normal share
  }
}

async function waitForUrl(child: ChildProcess, name: string, ms: number): Promise<string> {
  let output = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`relay ${name} printed no URL within ${ms} ms: ${output.slice(-800)}`)),
      ms,
    );
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-8000);
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`relay ${name} exited (${code ?? signal}): ${output.slice(-800)}`));
    });
  });
}

async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * `mxcast token create USER --cluster URLS`. Right after the meta leader is elected JetStream may
 * still answer "not enabled" for a moment, so it is tried a few times.
 */
export async function clusterToken(natsUrls: string): Promise<string> {
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const { stdout } = await execFileAsync(process.execPath, [
        mxcastBin,
        'token',
        'create',
        '@bench:localhost',
        '--cluster',
        natsUrls,
      ]);
      const token = stdout.trim().split(/\s+/).pop();
      if (token) return token;
      last = 'no token printed';
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`mxcast token create --cluster: ${last}`);
}

/** `POST /_matrix/media/v1/create` with the preset's geometry; the media's server and id. */
export async function createMedia(
  url: string,
  authorization: string,
  preset: FanoutPreset,
): Promise<{ server: string; id: string }> {
  const created = await fetch(`${url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({
      [GEOMETRY_KEY]: streamGeometryOf({ ...preset, frameMs: 20, bitrate: 32000 }, 1),
    }),
  });
  const body = (await created.json()) as { content_uri?: string };
  const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(body.content_uri ?? '');
  if (!created.ok || !m)
    throw new Error(`create answered ${created.status} ${JSON.stringify(body)}`);
  return { server: m[1] as string, id: m[2] as string };
}

/**
 * The cluster row's server under test: upload (streaming PUT) to `uploadNode`, WebSocket listeners
 * from the live edge on `listenNode`; the sampled pid is the listeners' node.
 */
export async function clusterServer(
  uploadNode: RelayNodeProcess,
  listenNode: RelayNodeProcess,
  token: string,
  preset: FanoutPreset,
): Promise<ServerUnderTest> {
  const authorization = `Bearer ${token}`;
  const { server, id } = await createMedia(uploadNode.url, authorization, preset);
  return {
    pid: listenNode.pid,
    upload: {
      server: 'relay',
      port: uploadNode.port,
      path: `/_matrix/media/v3/upload/${server}/${id}`,
      authorization,
    },
    listen: {
      kind: 'relay-ws',
      port: listenNode.port,
      path: `${P}/ws/${server}/${id}?from=live`,
      blockBytes: preset.blockBytes,
      headerEnd: relayHeaderEnd(),
    },
    close: async () => undefined,
  };
}

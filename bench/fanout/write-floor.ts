/**
 * The write() floor of the fan-out bench: write-floor.c, compiled here with gcc, delivers each
 * block of a preset to N loopback TCP listeners with one plain write() per listener (writer
 * pinned to core 0, where the servers run) while an epoll reader on core 1 (where the load
 * generator runs) times every block. No HTTP/WebSocket framing and no server logic, so its
 * CPU per write and its delays are the least any server can reach on this machine — the
 * reference that tells a server's own cost from the kernel's (docs/benchmarks.md "Live fan-out").
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FanoutPreset } from './fanout-presets.ts';
import type { ScenarioResult } from './fanout-scenario.ts';
import { GENERATOR_CORE, PinnedProcess, SERVER_CORE } from './pinned-process.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WRITE_FLOOR_SOURCE = path.join(here, 'write-floor.c');

export interface WriteFloorBinary {
  binary: string;
  dispose(): Promise<void>;
}

/** The writer's own figures (write-floor.c prints them as JSON). */
export interface WriteFloorWriter {
  listeners: number;
  joinMs: number;
  passes: number;
  writes: number;
  failures: number;
  dropped: number;
  cpuSeconds: number;
  cpuUsPerWrite: number;
  cpuPct: number;
  /** Time from the first to the last write of one block, over the passes of the hold. */
  passP50Ms: number;
  passP99Ms: number;
  passMaxMs: number;
  peakRssKb: number;
}

export interface WriteFloorReader {
  listeners: number;
  blocks: number;
  seqGaps: number;
  stillOpen: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuSeconds: number;
  cpuPct: number;
  reads: number;
}

export interface WriteFloorResult {
  writer: WriteFloorWriter;
  reader: WriteFloorReader;
  /** Blocks written (passes × N) that the reader never completed. */
  lostBlocks: number;
}

export class WriteFloorError extends Error {
  readonly code = 'WRITE_FLOOR_FAILED' as const;
}

/** Compiles write-floor.c into a temp dir, or says why it cannot (no gcc, or gcc failed). */
export async function buildWriteFloor(): Promise<WriteFloorBinary | { missing: string }> {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return {
      missing:
        'gcc is not installed, so the write() floor rows were skipped: install it with ' +
        '`sudo apt-get install -y gcc` and run `pnpm bench fanout` again.',
    };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-write-floor-'));
  const binary = path.join(dir, 'write-floor');
  try {
    execFileSync('gcc', ['-O2', '-o', binary, WRITE_FLOOR_SOURCE], { stdio: 'pipe' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    return {
      missing: `write-floor.c did not compile, so the write() floor rows were skipped: ${stderr.slice(0, 300)}`,
    };
  }
  return { binary, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export interface WriteFloorOptions {
  listeners: number;
  holdMs: number;
  /** How long the reader waits past the hold for the last blocks before it gives up. */
  graceMs: number;
}

function stdoutOf(proc: PinnedProcess): { text: () => string; exit: Promise<number | null> } {
  let text = '';
  proc.child.stdout?.on('data', (d: Buffer) => (text += d.toString('utf8')));
  // 'close', not 'exit': a process's last stdout chunk may be delivered after its 'exit'.
  const exit = new Promise<number | null>((resolve) => {
    proc.child.once('close', (code: number | null) => resolve(code));
  });
  return { text: () => text, exit };
}

function lastJson<T>(text: string, who: string): T {
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new WriteFloorError(`write-floor ${who} printed no result: ${text.slice(-300)}`);
  return JSON.parse(line) as T;
}

/** One row: writer on core 0 and reader on core 1, N connections, `holdMs` of blocks. */
export async function runWriteFloor(
  binary: string,
  preset: Pick<FanoutPreset, 'blockBytes' | 'blockIntervalMs'>,
  options: WriteFloorOptions,
): Promise<WriteFloorResult> {
  const { listeners, holdMs, graceMs } = options;
  const writer = new PinnedProcess('write-floor writer', SERVER_CORE, binary, [
    'writer',
    '0',
    String(listeners),
    String(preset.blockBytes),
    String(preset.blockIntervalMs),
    String(holdMs),
  ]);
  const writerOut = stdoutOf(writer);
  let reader: PinnedProcess | null = null;
  // Bounded: connecting N sockets takes well under a second per thousand here.
  const limitMs = holdMs + graceMs + 60_000;
  const watchdog = setTimeout(() => {
    void writer.stop();
    void reader?.stop();
  }, limitMs);
  try {
    const [, port] = await writer.waitForOutput(/listening (\d+)/, 10_000);
    reader = new PinnedProcess('write-floor reader', GENERATOR_CORE, binary, [
      'reader',
      port as string,
      String(listeners),
      String(preset.blockBytes),
      String(holdMs + graceMs + 30_000),
    ]);
    const readerOut = stdoutOf(reader);
    // A reader that dies leaves the writer waiting in accept(): stop it rather than the watchdog.
    void readerOut.exit.then((code) => (code !== 0 ? writer.stop() : undefined));
    const [writerCode, readerCode] = await Promise.all([writerOut.exit, readerOut.exit]);
    if (writerCode !== 0 || readerCode !== 0) {
      throw new WriteFloorError(
        `write-floor exited ${writerCode} (writer) / ${readerCode} (reader): ${writer.output.slice(-300)} ${reader.output.slice(-300)}`,
      );
    }
    const w = lastJson<WriteFloorWriter>(writerOut.text(), 'writer');
    const r = lastJson<WriteFloorReader>(readerOut.text(), 'reader');
    return { writer: w, reader: r, lostBlocks: w.passes * listeners - r.blocks };
  } finally {
    clearTimeout(watchdog);
    await writer.stop();
    await reader?.stop();
  }
}

/** The floor as a row of the fan-out tables: writer = server, reader = load generator. */
export function asScenarioResult(f: WriteFloorResult, holdMs: number): ScenarioResult {
  const n = f.writer.listeners;
  return {
    listeners: n,
    joined: n,
    joinFailures: {},
    joinMs: f.writer.joinMs,
    heldAtStart: n,
    held: n - f.writer.dropped,
    dropped: f.writer.dropped,
    holdMs,
    windowBlocks: f.writer.passes,
    expectedBlocks: f.writer.passes * n,
    lostBlocks: f.lostBlocks,
    seqGaps: f.reader.seqGaps,
    skippedMessages: 0,
    samples: f.reader.samples,
    p50: f.reader.p50Ms,
    p99: f.reader.p99Ms,
    max: f.reader.maxMs,
    generatorCpuPct: f.reader.cpuPct,
    joinRatePerSec: f.writer.joinMs > 0 ? n / (f.writer.joinMs / 1000) : Number.NaN,
    serverCpuPct: f.writer.cpuPct,
    serverPeakRssMb: f.writer.peakRssKb / 1024,
  };
}

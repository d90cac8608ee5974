import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { outputDirFromEnv, PinnedProcess } from './pinned-process.ts';

describe('MXCAST_BENCH_OUTPUT_DIR', () => {
  const saved = process.env.MXCAST_BENCH_OUTPUT_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.MXCAST_BENCH_OUTPUT_DIR;
    else process.env.MXCAST_BENCH_OUTPUT_DIR = saved;
  });

  it('is unset, a directory, or refused with one line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-output-dir-'));
    try {
      delete process.env.MXCAST_BENCH_OUTPUT_DIR;
      expect(outputDirFromEnv()).toBeUndefined();
      process.env.MXCAST_BENCH_OUTPUT_DIR = dir;
      expect(outputDirFromEnv()).toBe(dir);
      const file = path.join(dir, 'a-file');
      await writeFile(file, '');
      process.env.MXCAST_BENCH_OUTPUT_DIR = file;
      expect(() => outputDirFromEnv()).toThrow(
        `MXCAST_BENCH_OUTPUT_DIR: '${file}' is not a directory`,
      );
      process.env.MXCAST_BENCH_OUTPUT_DIR = path.join(dir, 'missing');
      expect(() => new PinnedProcess('x', 0, 'true', [])).toThrow(/is not a directory/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps both streams of a process in one file, named without spaces', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-output-dir-'));
    try {
      process.env.MXCAST_BENCH_OUTPUT_DIR = dir;
      const p = new PinnedProcess('load generator', 0, 'sh', [
        '-c',
        'echo out; echo err >&2; sleep 0.2; echo late; echo late-err >&2',
      ]);
      const closed = new Promise((resolve) => p.child.once('close', resolve));
      await p.waitForOutput(/late-err/, 5000);
      await closed;
      // The file is ended on close and written asynchronously: read until all four lines are in.
      const file = path.join(dir, `load-generator-${p.pid}.log`);
      let lines: string[] = [];
      for (let waited = 0; lines.length < 4 && waited < 3000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      }
      expect(lines.sort()).toEqual(['err', 'late', 'late-err', 'out']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BlockFramer } from '@mxcast/format';
import { describe, expect, it } from 'vitest';
import { BenchStream, relayHeaderEnd } from './bench-stream.ts';
import { FANOUT_PRESETS } from './fanout-presets.ts';
import { concat } from './split-feed.ts';

const run = promisify(execFile);

describe('BenchStream', () => {
  it.each(['voice', 'low-latency'] as const)(
    'makes %s blocks the relay accepts: valid framing, consecutive seqs, the preset size',
    async (name) => {
      const preset = FANOUT_PRESETS[name];
      const stream = await BenchStream.open(preset, true);
      const units = [];
      for (let i = 0; i < 12; i++) units.push(await stream.next());
      const framer = new BlockFramer();
      const blocks = framer.push(concat(...units));
      framer.finish();
      expect(blocks.map((b) => b.seq)).toEqual([...Array(12).keys()]);
      expect(blocks[2]?.offset).toBe(relayHeaderEnd());
      for (const b of blocks.slice(2)) expect(b.bytes.length).toBe(preset.blockBytes);
    },
  );

  it('makes an Ogg Opus stream for Icecast that opusinfo accepts, one preset-sized page a unit', async () => {
    const preset = FANOUT_PRESETS.voice;
    const stream = await BenchStream.open(preset, false);
    const pages = [];
    for (let i = 0; i < 30; i++) pages.push(await stream.next());
    for (const p of pages.slice(2)) expect(p.length).toBe(preset.oggPageBytes);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fanout-stream-'));
    try {
      const file = path.join(dir, 'bench.opus');
      await writeFile(file, concat(...pages));
      // A live stream has no EOS page yet: opusinfo warns about that (exit 1) and nothing else.
      const { stdout } = await run('opusinfo', [file]).catch(
        (err: { stdout: string; code: number }) => ({ stdout: err.code === 1 ? err.stdout : '' }),
      );
      expect(stdout.match(/^(WARNING|ERROR).*$/gm)).toEqual([
        'WARNING: EOS not set on stream 1 (normal for live streams)',
      ]);
      expect(stdout).toMatch(/\(hard-CBR\)/);
      expect(stdout).toMatch(/Playback length: 0m:06\.713s/); // 28 pages × 240 ms − 312 pre-skip
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

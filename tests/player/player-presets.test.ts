/**
 * Every preset (docs/audio.md) and the legacy little-endian form (docs/format.md) play from start
 * to finish, and the player's PCM is what opusdec makes of the same stream decrypted to .opus
 * (same length after pre-skip and end trim, same samples).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresetName } from '@mxcast/audio';
import { createBlockCipher, decryptAll } from '@mxcast/format';
import { MemorySink } from '@mxcast/player';
import {
  alignment,
  encodeBroadcast,
  fileBytes,
  useTestRelay,
  uploadFinished,
  playerOf,
} from './broadcast-fixture.ts';

const relay = useTestRelay();
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mxcast-presets-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

/** opusdec's 16-bit mono PCM for the plaintext pages of a stream. */
async function opusdec(
  bytes: Uint8Array,
  file: Parameters<typeof createBlockCipher>[0],
  name: string,
): Promise<Int16Array> {
  const blocks = await decryptAll(await createBlockCipher(file), bytes);
  const opus = join(dir, `${name}.opus`);
  const wav = join(dir, `${name}.wav`);
  writeFileSync(opus, Buffer.concat(blocks.map((b) => b.plaintext)));
  execFileSync('opusdec', ['--quiet', '--no-dither', '--rate', '48000', opus, wav]);
  const data = readFileSync(wav);
  const at = data.indexOf('data') + 8; // canonical header from opusdec
  return new Int16Array(data.buffer.slice(data.byteOffset + at, data.byteOffset + data.length));
}

describe('presets', () => {
  for (const preset of ['low-latency', 'voice', 'music'] as PresetName[]) {
    it(`${preset}: plays to the end, sample for sample what opusdec decodes`, async () => {
      const b = await encodeBroadcast(preset, 2);
      const up = await uploadFinished(relay, b);
      for (const transport of ['http', 'ws'] as const) {
        const sink = new MemorySink();
        const player = playerOf(up, {
          sink,
          transport,
        });
        const outcome = await player.play({ time: 0 });
        expect(outcome.state, transport).toBe('finished');
        const ours = sink.samples();
        const reference = await opusdec(fileBytes(b), up.file, `${preset}-${transport}`);
        expect(ours.length, transport).toBe(reference.length);
        let maxDiff = 0;
        for (let i = 0; i < ours.length; i++)
          maxDiff = Math.max(maxDiff, Math.abs((ours[i] as number) - (reference[i] as number)));
        expect(maxDiff, transport).toBeLessThanOrEqual(2);
      }
    });
  }
});

describe('legacy little-endian streams (the experimental writer)', () => {
  it('play to the end and seek to the exact sample', async () => {
    const b = await encodeBroadcast('voice', 3, { legacyLittleEndian: true });
    const up = await uploadFinished(relay, b);
    const sink = new MemorySink();
    const outcome = await playerOf(up, {
      sink,
    }).play({ time: 0 });
    expect(outcome.state).toBe('finished');
    expect(sink.samples().length).toBe((b.blocks.length - 2) * b.blockSamples - b.preSkip);
    const seek = new MemorySink();
    const target = Math.round(1.55 * 48_000);
    const seeked = await playerOf(up, {
      sink: seek,
      duration: 0.3,
    }).play({
      time: 1.55,
    });
    expect(seeked.state).toBe('stopped');
    expect(seek.chunks[0]?.startSample).toBe(target);
    expect(Math.abs(alignment(seek.samples(), b.pcm, target).lag)).toBeLessThanOrEqual(960);
  });
});

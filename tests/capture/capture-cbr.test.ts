/**
 * docs/audio.md: hard CBR, a fixed number of frames per block, so every audio block of a stream
 * has the same size whatever the input: digital silence and full-band noise alike, per preset.
 * The stored bytes are read back from the relay and framed without the key.
 */
import { describe, expect, it } from 'vitest';
import { blockGeometry, createSignal, PRESETS } from '@mxcast/audio';
import { CaptureSession, createOpusEncoder, generatedSource } from '@mxcast/capture';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { BlockFramer, createBlockCipher, type EncryptedFile } from '@mxcast/format';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import { useInProcessRelay } from './capture-harness.ts';

const relay = useInProcessRelay();

async function capture(preset: string, signal: string, seconds: number) {
  const gen = createSignal(signal, { channels: 1, amplitude: 1 });
  const session = new CaptureSession({
    relay: relay().url,
    token: relay().token,
    preset,
    source: generatedSource(signal, 1, (n) => gen.read(n)),
    createEncoder: createOpusEncoder,
    title: `${preset} ${signal}`,
    duration: seconds,
    realtime: false,
  });
  return session.run();
}

describe('constant blocks', () => {
  for (const preset of Object.values(PRESETS)) {
    it(`${preset.name}: every audio block is ${blockGeometry(preset).blockBytes} bytes, silence and noise alike`, async () => {
      const size = blockGeometry(preset).blockBytes;
      const sizes: Record<string, number[]> = {};
      for (const signal of ['silence', 'noise']) {
        const result = await capture(preset.name, signal, 1.5);
        const { mxc, file } = parseListenLink(result.link);
        const client = new MediaClient({ baseUrl: relay().url });
        const wire = new Uint8Array(await (await client.download(mxc)).arrayBuffer());
        const framer = new BlockFramer();
        const blocks = framer.push(wire);
        framer.finish();
        expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
        const audio = blocks.slice(2, -1);
        expect(audio.length).toBeGreaterThanOrEqual(
          Math.floor(1.5 / ((preset.frameMs * preset.framesPerBlock) / 1000)) - 1,
        );
        sizes[signal] = audio.map((b) => b.bytes.length);
        expect(new Set(sizes[signal])).toEqual(new Set([size]));
        // The last block carries EOS and is no larger than the others.
        const cipher = await createBlockCipher(file as EncryptedFile);
        const last = blocks.at(-1)!;
        const page = parseOggPage(await cipher.decrypt(last.seq, last.ciphertext));
        expect(page.flags & OggFlag.EOS).toBe(OggFlag.EOS);
        expect(last.bytes.length).toBeLessThanOrEqual(size);
        // The relay sees the same constant size.
        const index = await client.index(mxc);
        expect(index.block_size).toBe(size);
      }
      expect(sizes.silence!.length).toBe(sizes.noise!.length);
    });
  }
});

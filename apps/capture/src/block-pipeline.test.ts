import { describe, expect, it } from 'vitest';
import { BlockFramer, createBlockCipher, generateEncryptedFile } from '@mxcast/format';
import { OggFlag, parseOggPage, parseOpusHead, parseOpusTags } from '@mxcast/ogg';
import { BlockPipeline } from './block-pipeline.ts';
import { audioBlockSize, CAPTURE_PRESETS, type CapturePreset } from './capture-presets.ts';
import { createOpusEncoder } from './opus-encoder-factory.ts';

function tone(samples: number, channels: number, amplitude: number, start = 0): Int16Array {
  const out = new Int16Array(samples * channels);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * (start + i)) / 48000));
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

async function runPipeline(preset: CapturePreset, channels: number, chunks: Int16Array[]) {
  const file = generateEncryptedFile();
  const cipher = await createBlockCipher(file);
  const encoder = createOpusEncoder(preset, channels);
  const pipeline = new BlockPipeline({
    preset,
    channels,
    cipher,
    encoder,
    serial: 1234,
    title: 'pipeline test',
  });
  const head = await pipeline.start();
  const blocks = [...head.blocks];
  for (const c of chunks) blocks.push(...(await pipeline.push(c)));
  blocks.push(...(await pipeline.finish()));
  // Frame and decrypt the wire bytes as a reader would.
  const wire = new Uint8Array(head.magic.length + blocks.reduce((n, b) => n + b.bytes.length, 0));
  wire.set(head.magic);
  let at = head.magic.length;
  for (const b of blocks) {
    wire.set(b.bytes, at);
    at += b.bytes.length;
  }
  const framer = new BlockFramer();
  const framed = framer.push(wire);
  framer.finish();
  const pages = [];
  for (const f of framed) pages.push(parseOggPage(await cipher.decrypt(f.seq, f.ciphertext)));
  return { blocks, framed, pages, pipeline, preSkip: encoder.preSkip };
}

describe('BlockPipeline', () => {
  for (const preset of Object.values(CAPTURE_PRESETS)) {
    it(`${preset.name}: one Ogg page per block, every audio block before the EOS one ${audioBlockSize(preset)} bytes, silence and loud alike`, async () => {
      const channels = preset.name === 'music' ? 2 : 1;
      const samples = 48000 * 1.3 + 17; // not a whole number of frames or blocks
      const half = Math.floor(samples / 2);
      const chunks: Int16Array[] = [];
      // First half silence, second half a full-scale tone, pushed in odd-sized chunks.
      const pcm = new Int16Array(samples * channels);
      pcm.set(tone(samples - half, channels, 32000, half), half * channels);
      for (let i = 0; i < pcm.length;) {
        const n = Math.min(pcm.length - i, (331 + (i % 7) * 100) * channels);
        chunks.push(pcm.subarray(i, i + n));
        i += n;
      }
      const { blocks, framed, pages, preSkip } = await runPipeline(preset, channels, chunks);
      expect(framed.map((f) => f.seq)).toEqual(blocks.map((_, i) => i));
      const head = parseOpusHead(pages[0]!.packets[0]!);
      expect(head.channels).toBe(channels);
      expect(head.preSkip).toBe(preSkip);
      expect(pages[0]!.flags & OggFlag.BOS).toBeTruthy();
      const tags = parseOpusTags(pages[1]!.packets[0]!);
      expect(tags.comments).toContainEqual({ key: 'TITLE', value: 'pipeline test' });
      // Every audio block but the EOS one has the CBR size; the EOS one holds only the packets
      // the end needs (trim under one packet: RFC 7845 §4.4, as opusinfo checks).
      const audio = blocks.slice(2, -1);
      expect(new Set(audio.map((b) => b.bytes.length))).toEqual(new Set([audioBlockSize(preset)]));
      const packetBytes = (preset.bitrate * preset.frameMs) / 8000;
      const lastPackets = pages.at(-1)!.packets.length;
      expect(blocks.at(-1)!.bytes.length).toBe(
        16 + 27 + lastPackets * (Math.floor(packetBytes / 255) + 1 + packetBytes) + 16,
      );
      const frameSamples = (48000 * preset.frameMs) / 1000;
      for (let i = 2; i < pages.length; i++) {
        const p = pages[i]!;
        expect(p.pageSeq).toBe(i);
        const last = i === pages.length - 1;
        if (!last) expect(p.packets.length).toBe(preset.framesPerBlock);
        expect(p.flags & OggFlag.CONTINUED).toBe(0);
        expect(Boolean(p.flags & OggFlag.EOS)).toBe(last);
        if (!last) expect(p.granule).toBe(BigInt((i - 1) * preset.framesPerBlock * frameSamples));
      }
      // The final granule trims the padding: a decoder outputs exactly the input's samples.
      expect(pages.at(-1)!.granule).toBe(BigInt(samples + preSkip));
      const totalPackets = pages.slice(2).reduce((n, p) => n + p.packets.length, 0);
      expect(totalPackets).toBe(Math.ceil((samples + preSkip) / frameSamples));
    });
  }

  it('continues a stream at a given seq with the granule of the blocks before it', async () => {
    const preset = CAPTURE_PRESETS.voice!;
    const file = generateEncryptedFile();
    const cipher = await createBlockCipher(file);
    const pipeline = new BlockPipeline({
      preset,
      channels: 1,
      cipher,
      encoder: createOpusEncoder(preset, 1),
      serial: 7,
      title: 't',
      resumeSeq: 10,
    });
    const blocks = await pipeline.push(tone(48000 * 0.24, 1, 1000));
    expect(blocks.map((b) => b.seq)).toEqual([10]);
    const page = parseOggPage(await cipher.decrypt(10, blocks[0]!.bytes.subarray(16)));
    expect(page.pageSeq).toBe(10);
    expect(page.serial).toBe(7);
    expect(page.granule).toBe(BigInt(9 * 12 * 960));
  });
});

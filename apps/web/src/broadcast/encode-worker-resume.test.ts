/**
 * The encoder worker continuing a stream (a reloaded broadcaster tab, resume-store.ts): run one
 * worker, take the resume point it reported after block 3, start a second worker from it, and
 * check the joined file decrypts whole and is one continuous Ogg Opus stream (RFC 3533 §6: one
 * serial, page sequence without gap, granules rising, BOS once, EOS once at the end). Node has
 * no WebCodecs, so this is the opusscript path; the worker runs in this thread with `self`
 * stood in.
 */
import {
  createBlockCipher,
  decryptAll,
  epochFromFile,
  generateEncryptedFile,
} from '@mxcast/format';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { findPreset } from './broadcast-presets.ts';
import type { EncoderConfig, FromEncoder, ToEncoder } from './encoder-protocol.ts';

type Bytes = Extract<FromEncoder, { type: 'bytes' }>;
const preset = findPreset('voice');
const frameSamples = (48000 * preset.frameMs) / 1000;
const ports: MessagePort[] = [];

afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One worker: `blocks` blocks of a tone, then (with `stop`) the EOS block. */
async function runWorker(config: EncoderConfig, blocks: number, stop: boolean) {
  vi.resetModules();
  const out: FromEncoder[] = [];
  const scope = {
    postMessage: (m: FromEncoder) => out.push(m),
    onmessage: null as ((e: { data: ToEncoder }) => void) | null,
  };
  (globalThis as { self?: unknown }).self = scope;
  await import('./encode-worker.ts');
  const channel = new MessageChannel();
  ports.push(channel.port1, channel.port2);
  scope.onmessage!({ data: { type: 'start', config, pcm: channel.port2 } });
  await until(() => out.some((m) => m.type === 'ready'), 'ready');
  const audio = () => out.filter((m): m is Bytes => m.type === 'bytes' && (m.seq ?? 0) >= 2);
  const before = audio().length;
  for (let f = 0; f < blocks * preset.framesPerBlock; f++) {
    const frame = new Float32Array(frameSamples);
    for (let i = 0; i < frameSamples; i++) {
      frame[i] = 0.3 * Math.sin((2 * Math.PI * 440 * (f * frameSamples + i)) / 48000);
    }
    channel.port1.postMessage(frame);
  }
  await until(() => audio().length >= before + blocks, `${blocks} audio blocks`);
  if (stop) {
    scope.onmessage!({ data: { type: 'stop' } });
    await until(() => out.some((m) => m.type === 'stopped'), 'stopped');
  }
  const error = out.find((m) => m.type === 'error');
  expect(error).toBeUndefined();
  return out.filter((m): m is Bytes => m.type === 'bytes');
}

describe('encode worker resume', () => {
  it('a second worker continues the first one’s stream from its resume point', async () => {
    const file = generateEncryptedFile('mxc://test/resume');
    const config: EncoderConfig = {
      frameMs: preset.frameMs,
      framesPerBlock: preset.framesPerBlock,
      bitrate: preset.bitrate,
      channels: 1,
      application: preset.application,
      codec: 'opusscript',
      file,
    };
    // The first tab: magic, two header blocks, 4 audio blocks (seq 2..5); "reloaded" after seq 3.
    const first = await runWorker(config, 4, false);
    const cut = first.findIndex((m) => m.seq === 3);
    const point = first[cut]!.ogg!;
    expect(point.pageSeq).toBe(4);
    const kept = first.slice(0, cut + 1);

    const second = await runWorker(
      { ...config, resume: { nextSeq: 4, ...point, epochs: [epochFromFile(file)] } },
      3,
      true,
    );
    expect(second[0]!.seq).toBe(4); // no magic, no header pages again
    const whole = [...kept, ...second].map((m) => m.bytes);
    const blocks = await decryptAll(await createBlockCipher(file), whole);
    expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
    const pages = blocks.map((b) => parseOggPage(b.plaintext));
    expect(new Set(pages.map((p) => p.serial))).toEqual(new Set([point.serial]));
    expect(pages.map((p) => p.pageSeq)).toEqual(pages.map((_, i) => i));
    expect(pages.filter((p) => p.flags & OggFlag.BOS).map((p) => p.pageSeq)).toEqual([0]);
    const eos = pages.filter((p) => p.flags & OggFlag.EOS).map((p) => p.pageSeq);
    expect(eos).toEqual([pages.length - 1]);
    const granules = pages.slice(2, -1).map((p) => p.granule);
    for (let i = 1; i < granules.length; i++) {
      expect(granules[i]! - granules[i - 1]!).toBe(BigInt(preset.framesPerBlock * frameSamples));
    }
    // The resumed run's first page follows the saved granule by one block.
    expect(pages[4]!.granule - BigInt(point.granule)).toBe(
      BigInt(preset.framesPerBlock * frameSamples),
    );
  });
});

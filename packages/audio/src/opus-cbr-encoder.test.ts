import { describe, expect, it } from 'vitest';
import { isAudioError } from './audio-error.ts';
import { estimateFrequency } from './frequency.ts';
import { OpusCbrEncoder } from './opus-cbr-encoder.ts';
import { OpusPacketDecoder } from './opus-packet-decoder.ts';
import { channelOf, rmsDbfs } from './pcm.ts';
import { PRESETS, blockGeometry } from './presets.ts';
import { createSignal } from './test-signals.ts';

describe('OpusCbrEncoder', () => {
  for (const preset of Object.values(PRESETS)) {
    for (const channels of [1, 2]) {
      it(`keeps every packet at bitrate × frame for ${preset.name}, ${channels} ch, silence to full-scale noise`, () => {
        const enc = OpusCbrEncoder.forPreset(preset, { channels });
        expect([enc.channels, enc.bitrate, enc.frameMs]).toEqual([
          channels,
          preset.bitrate,
          preset.frameMs,
        ]);
        const expected = (preset.bitrate * preset.frameMs) / 8000;
        expect(enc.packetBytes).toBe(expected);
        expect(blockGeometry(preset).packetBytes).toBe(expected);
        const seen = new Set<number>();
        // Silence first and last: the case VBR/DTX would shrink to a few bytes.
        for (const spec of [
          'silence',
          'noise',
          'sine:1000',
          'sweep:50-20000:1',
          'voice',
          'silence',
        ]) {
          const src = createSignal(spec, { channels, amplitude: 1 });
          for (let i = 0; i < 40; i++) seen.add(enc.encode(src.read(enc.frameSamples)).length);
        }
        expect([...seen]).toEqual([expected]);
        enc.destroy();
      });
    }
  }

  it("works the same on opusscript's asm.js build (what browsers get): CBR sizes, tone", () => {
    const enc = new OpusCbrEncoder({ channels: 2, bitrate: 128000, wasm: false });
    const dec = new OpusPacketDecoder({ channels: 2, wasm: false });
    const src = createSignal('sine:1000', { channels: 2 });
    const sizes = new Set<number>();
    const left: number[] = [];
    for (let i = 0; i < 25; i++) {
      const packet = enc.encode(src.read(960));
      sizes.add(packet.length);
      left.push(...channelOf(dec.decode(packet), 2, 0));
    }
    expect([...sizes]).toEqual([320]);
    expect(enc.preSkip).toBe(312);
    expect(estimateFrequency(Int16Array.from(left).subarray(4800), 48000)).toBeCloseTo(1000, 0);
    enc.destroy();
    dec.destroy();
  });

  it('reports geometry and the lookahead as pre-skip', () => {
    const enc = new OpusCbrEncoder({ channels: 2, bitrate: 128000 });
    expect(enc.frameSamples).toBe(960);
    expect(enc.packetBytes).toBe(320);
    // libopus 1.4 at 48 kHz: 2.5 ms of delay compensation + 4 ms (CELT overlap) = 312 samples.
    expect(enc.preSkip).toBe(312);
    enc.destroy();
    const enc16 = new OpusCbrEncoder({
      channels: 1,
      bitrate: 16000,
      sampleRate: 16000,
      frameMs: 10,
    });
    expect(enc16.frameSamples).toBe(160);
    expect(enc16.packetBytes).toBe(20);
    expect(enc16.preSkip).toBe(312);
    enc16.destroy();
  });

  it('decodes back to the tone it was given, at its level, after pre-skip', () => {
    for (const channels of [1, 2]) {
      const enc = new OpusCbrEncoder({ channels, bitrate: 64000, application: 'audio' });
      const dec = new OpusPacketDecoder({ channels });
      const src = createSignal('sine:1000', { channels, amplitude: 0.5 });
      const out: Int16Array[] = [];
      for (let i = 0; i < 50; i++) out.push(dec.decode(enc.encode(src.read(960))));
      const pcm = new Int16Array(out.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of out) {
        pcm.set(p, at);
        at += p.length;
      }
      expect(pcm.length).toBe(50 * 960 * channels);
      for (let c = 0; c < channels; c++) {
        const ch = channelOf(pcm, channels, c).subarray(enc.preSkip + 4800);
        expect(estimateFrequency(ch, 48000)).toBeCloseTo(1000, 0);
        // A sine of peak 0.5 has an RMS of 0.5/√2: −9.03 dBFS.
        expect(rmsDbfs(ch)).toBeCloseTo(-9.03, 0);
      }
      enc.destroy();
      dec.destroy();
    }
  });

  it('rejects settings CBR or Opus cannot honour, and frames of the wrong size', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return isAudioError(err) ? `${err.code}: ${err.message}` : String(err);
      }
      return undefined;
    };
    expect(code(() => new OpusCbrEncoder({ channels: 3, bitrate: 32000 }))).toMatch(
      /UNSUPPORTED_CHANNELS: .*not 3/,
    );
    expect(code(() => new OpusCbrEncoder({ channels: 1, bitrate: 32000, frameMs: 60 }))).toMatch(
      /BAD_ENCODER_SETTINGS: .*not 60/,
    );
    expect(code(() => new OpusCbrEncoder({ channels: 1, bitrate: 1000 }))).toMatch(/bitrate 1000/);
    expect(code(() => new OpusCbrEncoder({ channels: 1, bitrate: 32100, frameMs: 2.5 }))).toMatch(
      /10\.03125 bytes/,
    );
    expect(
      code(() => new OpusCbrEncoder({ channels: 1, bitrate: 32000, sampleRate: 44100 })),
    ).toMatch(/not 44100 Hz/);
    const enc = new OpusCbrEncoder({ channels: 2, bitrate: 32000 });
    expect(code(() => enc.encode(new Int16Array(960)))).toMatch(
      /BAD_FRAME: .*1920 samples, not 960/,
    );
    enc.destroy();
  });
});

describe('opusscript bridge memory safety', () => {
  it('keeps instances apart and working while the Emscripten heap grows under them', () => {
    const encA = new OpusCbrEncoder({ channels: 2, bitrate: 64000 });
    const decA = new OpusPacketDecoder({ channels: 2 });
    const encB = new OpusCbrEncoder({ channels: 1, bitrate: 32000 });
    const decB = new OpusPacketDecoder({ channels: 1 });
    const a = createSignal('sine:1000', { channels: 2 });
    const b = createSignal('sine:300', { channels: 1 });
    const outA: Int16Array[] = [];
    const outB: Int16Array[] = [];
    // Many more instances (each ~60 KB of heap) force the heap to grow past its initial 16 MiB.
    const crowd: OpusCbrEncoder[] = [];
    for (let i = 0; i < 60; i++) {
      for (let k = 0; k < 5; k++) crowd.push(new OpusCbrEncoder({ channels: 2, bitrate: 64000 }));
      outA.push(decA.decode(encA.encode(a.read(960))));
      outB.push(decB.decode(encB.encode(b.read(960))));
    }
    const join = (parts: Int16Array[]): Int16Array => {
      const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    const left = channelOf(join(outA), 2, 0).subarray(4800);
    expect(estimateFrequency(left, 48000)).toBeCloseTo(1000, 0);
    expect(rmsDbfs(left)).toBeCloseTo(-9.03, 0);
    const mono = join(outB).subarray(4800);
    expect(estimateFrequency(mono, 48000)).toBeCloseTo(300, 0);
    expect(rmsDbfs(mono)).toBeCloseTo(-9.03, 0);
    for (const e of [encA, encB, ...crowd]) e.destroy();
    decA.destroy();
    decB.destroy();
  });

  it('refuses packets too long for its output buffer, and use after destroy', () => {
    const dec = new OpusPacketDecoder({ channels: 2 });
    // TOC config 3 (SILK 60 ms), code 0: 2880 samples per channel.
    expect(() => dec.decode(Uint8Array.of(3 << 3, 0, 0))).toThrow(
      /packet of 60 ms; .* at most 30 ms/,
    );
    expect(() => dec.decode(Uint8Array.of(0xf8, 0xff, 0xfe))).not.toThrow();
    dec.destroy();
    expect(() => dec.decode(Uint8Array.of(0xf8, 0xff, 0xfe))).toThrow(/destroyed/);
  });
});

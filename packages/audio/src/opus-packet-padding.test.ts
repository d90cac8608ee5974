import { describe, expect, it } from 'vitest';
import { isAudioError } from './audio-error.ts';
import { OpusCbrEncoder } from './opus-cbr-encoder.ts';
import { OpusPacketDecoder } from './opus-packet-decoder.ts';
import { padOpusPacket } from './opus-packet-padding.ts';
import { createSignal } from './test-signals.ts';

/** A few 20 ms packets of a tone at `bitrate` (hard CBR, so each is bitrate × 20 / 8000 bytes). */
function packets(bitrate: number, count: number): Uint8Array[] {
  const enc = new OpusCbrEncoder({ channels: 1, bitrate, application: 'voip' });
  const signal = createSignal('voice');
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(enc.encode(signal.read(960)));
  enc.destroy();
  return out;
}

describe('padOpusPacket (RFC 6716 §3.2.5)', () => {
  const short = packets(24000, 8); // 60-byte code 0 packets
  // 1 byte (code 3 without padding), 2 (one length byte of 0), 200, 256 (a 255 length byte
  // follows), 600 (three length bytes): each decodes to exactly what the short packet did.
  for (const grow of [0, 1, 2, 20, 200, 256, 257, 600]) {
    it(`grows a code 0 packet by ${grow} bytes and libopus decodes the same audio`, () => {
      const size = 60 + grow;
      const plain = new OpusPacketDecoder({ channels: 1 });
      const padded = new OpusPacketDecoder({ channels: 1 });
      for (const p of short) {
        expect(p.length).toBe(60);
        expect(p[0]! & 3).toBe(0);
        const q = padOpusPacket(p, size);
        expect(q.length).toBe(size);
        const pcm = padded.decode(q);
        expect(pcm.length).toBe(960);
        expect(Array.from(pcm)).toEqual(Array.from(plain.decode(p)));
      }
      plain.destroy();
      padded.destroy();
    });
  }

  it('refuses a packet longer than the size and a multi-frame packet', () => {
    const p = short[0]!;
    const codes: string[] = [];
    for (const [packet, size] of [
      [p, 59],
      [new Uint8Array([p[0]! | 1, 1, 2]), 80],
      [new Uint8Array(0), 80],
    ] as const) {
      try {
        padOpusPacket(packet, size);
      } catch (err) {
        if (isAudioError(err)) codes.push(err.code);
      }
    }
    expect(codes).toEqual(['ENCODE_FAILED', 'ENCODE_FAILED', 'ENCODE_FAILED']);
  });
});

/**
 * How many 48 kHz samples an Opus packet decodes to, from its TOC byte (RFC 6716 §3.1) and
 * frame-count code (§3.2) — what Ogg Opus granule positions count (RFC 7845 §4).
 */

import { OggError } from './ogg-error.ts';

/** Samples per frame at 48 kHz for each of the 32 TOC configurations (RFC 6716 §3.1, Table 2). */
const FRAME_SAMPLES: readonly number[] = (() => {
  const silk = [480, 960, 1920, 2880]; // 10, 20, 40, 60 ms
  const hybrid = [480, 960]; // 10, 20 ms
  const celt = [120, 240, 480, 960]; // 2.5, 5, 10, 20 ms
  const out: number[] = [];
  for (let c = 0; c < 32; c++) {
    if (c < 12) out.push(silk[c % 4] as number);
    else if (c < 16) out.push(hybrid[c % 2] as number);
    else out.push(celt[c % 4] as number);
  }
  return out;
})();

/** Samples (per channel, at 48 kHz) of one frame of this packet. */
export function opusFrameSamples(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined)
    throw new OggError('BAD_OPUS_PACKET', 'an empty Opus packet has no TOC byte');
  return FRAME_SAMPLES[toc >> 3] as number;
}

/** Number of frames in the packet (RFC 6716 §3.2: codes 0–3). */
export function opusPacketFrames(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined)
    throw new OggError('BAD_OPUS_PACKET', 'an empty Opus packet has no TOC byte');
  switch (toc & 3) {
    case 0:
      return 1;
    case 1:
    case 2:
      return 2;
    default: {
      const count = packet[1];
      if (count === undefined) {
        throw new OggError('BAD_OPUS_PACKET', 'a code 3 Opus packet has no frame count byte');
      }
      const m = count & 0x3f;
      if (m === 0) throw new OggError('BAD_OPUS_PACKET', 'a code 3 Opus packet with 0 frames');
      return m;
    }
  }
}

/**
 * Samples per channel at 48 kHz that `packet` decodes to. Throws BAD_OPUS_PACKET for an empty
 * packet or one over 120 ms (RFC 6716 §3.2.5).
 */
export function opusPacketSamples(packet: Uint8Array): number {
  const samples = opusFrameSamples(packet) * opusPacketFrames(packet);
  if (samples > 5760) {
    throw new OggError(
      'BAD_OPUS_PACKET',
      `the packet would last ${samples / 48} ms; at most 120 ms is allowed`,
    );
  }
  return samples;
}

/**
 * Grows an Opus packet to an exact size with the padding RFC 6716 §3.2.5 defines (a code 3
 * packet's padding bytes, which decoders skip), so a stream keeps constant packets — and so
 * constant blocks (docs/audio.md "Constant bitrate, constant blocks") — even when an encoder we
 * do not drive ourselves (WebCodecs' AudioEncoder in a browser) hands back a packet a few bytes
 * short of its CBR size. libopus in hard CBR pads itself; this is the safety net for the rest.
 */

import { AudioError } from './audio-error.ts';

/**
 * `packet` padded to exactly `size` bytes, the same audio. A single-frame (code 0) packet becomes
 * a one-frame code 3 packet with padding; a packet already of `size` is returned as is. Throws
 * ENCODE_FAILED for a packet longer than `size` or of another framing (codes 1–3 never come out
 * of a 20 ms CBR encoder).
 */
export function padOpusPacket(packet: Uint8Array, size: number): Uint8Array {
  if (packet.length === size) return packet;
  if (packet.length === 0 || packet.length > size) {
    throw new AudioError(
      'ENCODE_FAILED',
      `cannot make a ${packet.length}-byte Opus packet ${size} bytes long`,
    );
  }
  const toc = packet[0]!;
  if ((toc & 3) !== 0) {
    throw new AudioError(
      'ENCODE_FAILED',
      `only single-frame (code 0) Opus packets are padded, not code ${toc & 3}`,
    );
  }
  const frame = packet.subarray(1);
  const grow = size - packet.length;
  const out = new Uint8Array(size);
  out[0] = toc | 3;
  if (grow === 1) {
    // Code 3, CBR, M = 1, no padding: one byte more than code 0 (§3.2.5).
    out[1] = 1;
    out.set(frame, 2);
    return out;
  }
  // TOC + count byte + n padding-length bytes + frame + P zero bytes = size, so n + P = grow − 1.
  // Each length byte 255 means "254 bytes, and another length byte follows"; the last is 0–254.
  const n = Math.max(1, Math.ceil((grow - 1) / 255));
  let padding = grow - 1 - n;
  out[1] = 0x40 | 1; // p = 1 (padding present), v = 0 (CBR), M = 1
  let at = 2;
  for (let i = 0; i < n - 1; i++) {
    out[at++] = 255;
    padding -= 254;
  }
  out[at++] = padding;
  out.set(frame, at);
  // The padding bytes themselves stay zero (the RFC asks encoders for zeros).
  return out;
}

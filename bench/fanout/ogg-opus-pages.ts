/**
 * A hand-made Ogg Opus stream for the benchmark (RFC 3533 pages, RFC 7845 headers): the
 * OpusHead page (BOS), the OpusTags page, then audio pages of `framesPerBlock` whole
 * 20 ms CELT packets each. The packets are a valid TOC byte (config 31: CELT fullband 20 ms,
 * mono, one frame — RFC 6716 §3.1) followed by random bytes: Icecast and the relay only
 * look at the page framing, and random bytes cost the same to carry as encoded audio.
 * Page sequence numbers equal block sequence numbers (0 = OpusHead, 1 = OpusTags, 2… audio),
 * so a listener maps a page to its send time directly.
 */
import { randomBytes } from 'node:crypto';
import type { FanoutPreset } from './fanout-presets.ts';

const OGG_CRC_TABLE = (() => {
  // RFC 3533 §6: CRC-32 with polynomial 0x04c11db7, initial value 0, no reflection.
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes)
    crc = ((crc << 8) ^ (OGG_CRC_TABLE[((crc >>> 24) ^ b) & 0xff] as number)) >>> 0;
  return crc;
}

export const OGG_BOS = 0x02;
const SAMPLES_PER_FRAME = 960; // 20 ms at 48 kHz (RFC 7845 §4: granules count 48 kHz samples)
const PRE_SKIP = 312;
const SERIAL = 0x6d786361;

/** One Ogg page holding `packets`, each shorter than 255 bytes (one lacing value each). */
export function buildOggPage(
  packets: readonly Uint8Array[],
  pageSeq: number,
  granule: bigint,
  flags = 0,
): Uint8Array {
  const bodyBytes = packets.reduce((n, p) => n + p.length, 0);
  const page = new Uint8Array(27 + packets.length + bodyBytes);
  const view = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53]); // "OggS"
  page[5] = flags;
  view.setBigInt64(6, granule, true);
  view.setUint32(14, SERIAL, true);
  view.setUint32(18, pageSeq, true);
  page[26] = packets.length;
  let at = 27;
  for (const p of packets) {
    if (p.length >= 255) throw new RangeError(`packet of ${p.length} bytes needs >1 lacing value`);
    page[at++] = p.length;
  }
  for (const p of packets) {
    page.set(p, at);
    at += p.length;
  }
  view.setUint32(22, oggCrc(page), true);
  return page;
}

function opusHead(): Uint8Array {
  // RFC 7845 §5.1: magic, version 1, channel count, pre-skip, input rate, gain, family 0.
  const head = new Uint8Array(19);
  const view = new DataView(head.buffer);
  head.set(new TextEncoder().encode('OpusHead'));
  head[8] = 1;
  head[9] = 1;
  view.setUint16(10, PRE_SKIP, true);
  view.setUint32(12, 48000, true);
  return head;
}

function opusTags(): Uint8Array {
  // RFC 7845 §5.2: magic, vendor string, zero user comments.
  const vendor = new TextEncoder().encode('mxcast fanout bench');
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  const view = new DataView(tags.buffer);
  tags.set(new TextEncoder().encode('OpusTags'));
  view.setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  return tags;
}

/** The page with sequence number `seq` of the benchmark's Ogg Opus stream. */
export function oggOpusPage(preset: FanoutPreset, seq: number): Uint8Array {
  if (seq === 0) return buildOggPage([opusHead()], 0, 0n, OGG_BOS);
  if (seq === 1) return buildOggPage([opusTags()], 1, 0n);
  const packets: Uint8Array[] = [];
  for (let i = 0; i < preset.framesPerBlock; i++) {
    const packet = randomBytes(preset.packetBytes);
    packet[0] = 0xf8; // TOC: config 31 (CELT FB 20 ms), mono, code 0 (RFC 6716 §3.1)
    packets.push(packet);
  }
  const granule = BigInt((seq - 1) * preset.framesPerBlock * SAMPLES_PER_FRAME);
  return buildOggPage(packets, seq, granule);
}

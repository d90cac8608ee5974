/**
 * The Ogg Opus comment header, "OpusTags" (RFC 7845 §5.2), a Vorbis-comment list:
 *
 *   "OpusTags", vendor length (u32 LE), vendor (UTF-8),
 *   comment count (u32 LE), then per comment: length (u32 LE), "KEY=value" (UTF-8)
 *
 * Keys are case-insensitive ASCII 0x20–0x7D without '='; readers compare them uppercased.
 */

import { OggError } from './ogg-error.ts';
import { hasMagic } from './opus-head.ts';

export interface OpusComment {
  key: string;
  value: string;
}

export interface OpusTags {
  vendor: string;
  comments: OpusComment[];
}

const MAGIC = new TextEncoder().encode('OpusTags');

export function isOpusTags(packet: Uint8Array): boolean {
  return hasMagic(packet, MAGIC);
}

export function encodeOpusTags(tags: OpusTags): Uint8Array {
  const enc = new TextEncoder();
  const vendor = enc.encode(tags.vendor);
  const comments = tags.comments.map(({ key, value }) => {
    if (key.length === 0 || !/^[\x20-\x3c\x3e-\x7d]+$/.test(key)) {
      throw new OggError(
        'BAD_ARGUMENT',
        `comment key ${JSON.stringify(key)} is not ASCII 0x20–0x7D without '='`,
      );
    }
    return enc.encode(`${key}=${value}`);
  });
  let size = 8 + 4 + vendor.length + 4;
  for (const c of comments) size += 4 + c.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, vendor.length, true);
  out.set(vendor, 12);
  let at = 12 + vendor.length;
  view.setUint32(at, comments.length, true);
  at += 4;
  for (const c of comments) {
    view.setUint32(at, c.length, true);
    out.set(c, at + 4);
    at += 4 + c.length;
  }
  return out;
}

export function parseOpusTags(packet: Uint8Array): OpusTags {
  const bad = (why: string): OggError => new OggError('BAD_OPUS_TAGS', `OpusTags: ${why}`);
  if (!isOpusTags(packet)) throw bad('the packet does not start with "OpusTags"');
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: true });
  let at = 8;
  const take = (what: string): Uint8Array => {
    if (packet.length - at < 4)
      throw bad(`ends at byte ${packet.length} before the length of ${what}`);
    const n = view.getUint32(at, true);
    if (n > packet.length - at - 4) {
      throw bad(`${what} claims ${n} bytes at byte ${at}; only ${packet.length - at - 4} remain`);
    }
    const bytes = packet.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return bytes;
  };
  const text = (bytes: Uint8Array, what: string): string => {
    try {
      return dec.decode(bytes);
    } catch (cause) {
      throw new OggError('BAD_OPUS_TAGS', `OpusTags: ${what} is not valid UTF-8`, { cause });
    }
  };
  const vendor = text(take('the vendor string'), 'the vendor string');
  if (packet.length - at < 4) throw bad('no comment count');
  const count = view.getUint32(at, true);
  at += 4;
  // Each comment takes at least 4 bytes: a count past that is a lie, not a reason to loop.
  if (count > (packet.length - at) / 4) {
    throw bad(`comment count ${count} cannot fit in the ${packet.length - at} bytes left`);
  }
  const comments: OpusComment[] = [];
  for (let i = 0; i < count; i++) {
    const s = text(take(`comment ${i}`), `comment ${i}`);
    const eq = s.indexOf('=');
    if (eq <= 0) throw bad(`comment ${i} ${JSON.stringify(s.slice(0, 40))} has no KEY=`);
    comments.push({ key: s.slice(0, eq), value: s.slice(eq + 1) });
  }
  // §5.2: data after the comments is allowed (binary if its first byte's LSB is set); ignored.
  return { vendor, comments };
}

/** The first value of a comment key, compared case-insensitively (RFC 7845 §5.2), or undefined. */
export function findOpusTag(tags: OpusTags, key: string): string | undefined {
  const k = key.toUpperCase();
  return tags.comments.find((c) => c.key.toUpperCase() === k)?.value;
}

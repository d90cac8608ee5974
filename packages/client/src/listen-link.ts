/**
 * Listen links (DESIGN.md §6, docs/listen-link.md):
 * `http(s)://<relay>/listen#mxc=<mxc>&k=<JWK k>&iv=<iv>&g=<frame_ms>,<frames_per_block>,<bitrate>,<block_size>,<channels>`.
 * Key and IV live in the fragment, which browsers never send to a server.
 */
import { decodeBase64 } from './base64-codec.ts';
import { ClientError } from './client-error.ts';
import type { EncryptedFileV3 } from './encrypted-file-shape.ts';
import { parseMxc } from './mxc-uri.ts';
import type { StreamGeometry } from './stream-geometry.ts';

/** AES-256 key and the file IV's sizes (MSC4016 v3; packages/format KEY_SIZE, FILE_IV_SIZE). */
const KEY_BYTES = 32;
const IV_BYTES = 12;
const V3 = 'org.matrix.msc4016.v3';

export interface ListenLinkParts {
  mxc: string;
  file: Pick<EncryptedFileV3, 'key' | 'iv'> & Partial<EncryptedFileV3>;
  geometry?: StreamGeometry | null;
}

export interface ParsedListenLink {
  /** The relay's base URL: the link's origin and path up to `/listen`, no trailing slash. */
  relayUrl: string;
  mxc: string;
  /** A complete EncryptedFile v3 object (`url` = the mxc URI). */
  file: EncryptedFileV3;
  /** Present when the link carried `g`; sample_rate is always 48000 (RFC 7845 §5.1). */
  geometry: StreamGeometry | null;
}

export function buildListenLink(relayUrl: string, parts: ListenLinkParts): string {
  const mxc = parseMxc(parts.mxc).uri;
  const base = relayUrl.replace(/\/+$/, '');
  const params = new URLSearchParams();
  params.set('mxc', mxc);
  params.set('k', parts.file.key.k);
  params.set('iv', parts.file.iv);
  const g = parts.geometry;
  if (g) {
    params.set(
      'g',
      [g.frame_ms, g.frames_per_block, g.bitrate, g.block_size, g.channels].join(','),
    );
  }
  return `${base}/listen#${params.toString()}`;
}

export function parseListenLink(link: string): ParsedListenLink {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw bad(`not a URL: '${link.slice(0, 80)}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw bad(`listen link must be http(s), got '${url.protocol}'`);
  }
  const at = url.pathname.lastIndexOf('/listen');
  if (at < 0 || url.pathname.slice(at) !== '/listen') {
    throw bad(`listen link path must end in /listen, got '${url.pathname}'`);
  }
  const params = new URLSearchParams(url.hash.replace(/^#/, ''));
  const mxcText = params.get('mxc');
  const k = params.get('k');
  const iv = params.get('iv');
  if (!mxcText) throw bad('listen link fragment has no mxc');
  if (!k) throw bad('listen link fragment has no k (key)');
  if (!iv) throw bad('listen link fragment has no iv');
  const mxc = parseMxc(mxcText).uri;
  const keyBytes = decodeBase64(k);
  if (!keyBytes || keyBytes.length !== KEY_BYTES) {
    throw bad(`listen link key must be ${KEY_BYTES} bytes of base64, got '${k.length} chars'`);
  }
  const ivBytes = decodeBase64(iv);
  if (!ivBytes || ivBytes.length !== IV_BYTES) {
    throw bad(`listen link iv must be ${IV_BYTES} bytes of base64, got ${iv.length} chars`);
  }
  const gText = params.get('g');
  let geometry: StreamGeometry | null = null;
  if (gText !== null) {
    const nums = gText.split(',').map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
    if (nums.length !== 5 || nums.some((n) => !Number.isSafeInteger(n) || n <= 0)) {
      throw bad(`listen link g must be five positive integers, got '${gText}'`);
    }
    const [frame_ms, frames_per_block, bitrate, block_size, channels] = nums as [
      number,
      number,
      number,
      number,
      number,
    ];
    geometry = { frame_ms, frames_per_block, bitrate, block_size, channels, sample_rate: 48000 };
  }
  const relayUrl = `${url.origin}${url.pathname.slice(0, at)}`;
  const file: EncryptedFileV3 = {
    v: V3,
    key: { kty: 'oct', alg: 'A256GCM', k, ext: true, key_ops: ['encrypt', 'decrypt'] },
    iv,
    url: mxc,
  };
  return { relayUrl, mxc, file, geometry };
}

function bad(message: string): ClientError {
  return new ClientError('M_BAD_ARGUMENT', message);
}

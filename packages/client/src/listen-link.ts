/**
 * Listen links (docs/listen-link.md):
 * `http(s)://<relay>/listen#mxc=<mxc>&k=<JWK k>&iv=<iv>&g=<frame_ms>,<frames_per_block>,<bitrate>,<block_size>,<channels>`.
 * Key and IV live in the fragment, which browsers never send to a server. `k` and `iv` follow the
 * EncryptedFile's rules exactly (base64url and standard base64, @mxcast/format's codec and
 * parseEncryptedFile): a link this parser accepts is one every player accepts, and a link it
 * refuses fails here, as a bad link, in the CLI and the web page alike.
 */
import {
  decodeBase64,
  decodeBase64Url,
  ENCRYPTED_FILE_VERSION,
  FILE_IV_SIZE,
  KEY_SIZE,
  parseEncryptedFile,
  type EncryptedFile,
} from '@mxcast/format';
import { geometryProblem, type StreamGeometry } from '@mxcast/protocol';
import { ClientError } from './client-error.ts';
import { parseMxc } from './mxc-uri.ts';

export interface ListenLinkParts {
  mxc: string;
  file: Pick<EncryptedFile, 'key' | 'iv'> & Partial<EncryptedFile>;
  geometry?: StreamGeometry | null;
}

export interface ParsedListenLink {
  /** The relay's base URL: the link's origin and path up to `/listen`, no trailing slash. */
  relayUrl: string;
  mxc: string;
  /** A complete EncryptedFile v3, as parseEncryptedFile returns it (`url` = the mxc URI). */
  file: EncryptedFile;
  /** Present when the link carried `g`; sample_rate is always 48000 (RFC 7845 §5.1). */
  geometry: StreamGeometry | null;
}

const G_FIELDS = 'frame_ms,frames_per_block,bitrate,block_size,channels';

export function buildListenLink(relayUrl: string, parts: ListenLinkParts): string {
  const mxc = parseMxc(parts.mxc).uri;
  const base = relayUrl.replace(/\/+$/, '');
  const params = new URLSearchParams();
  params.set('mxc', mxc);
  // Refuse to write a link that parseListenLink would refuse.
  params.set('k', checkKey(parts.file.key.k));
  params.set('iv', checkIv(parts.file.iv));
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
    throw bad(`must be http(s), got '${url.protocol}'`);
  }
  const at = url.pathname.lastIndexOf('/listen');
  if (at < 0 || url.pathname.slice(at) !== '/listen') {
    throw bad(`path must end in /listen, got '${url.pathname}'`);
  }
  const params = new URLSearchParams(url.hash.replace(/^#/, ''));
  const mxcText = params.get('mxc');
  // The fragment is form-encoded, so a '+' pasted unescaped arrives as a space. No base64 has
  // spaces: reading them back as '+' is unambiguous (a standard-base64 iv often holds a '+').
  const k = params.get('k')?.replaceAll(' ', '+');
  const iv = params.get('iv')?.replaceAll(' ', '+');
  if (!mxcText) throw bad('fragment has no mxc');
  if (!k) throw bad('fragment has no k (key)');
  if (!iv) throw bad('fragment has no iv');
  let mxc: string;
  try {
    mxc = parseMxc(mxcText).uri;
  } catch (err) {
    throw err instanceof ClientError ? bad(err.message) : err;
  }
  checkKey(k);
  checkIv(iv);
  const gText = params.get('g');
  let geometry: StreamGeometry | null = null;
  if (gText !== null) {
    const nums = gText.split(',').map((s) => (/^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN));
    const [frame_ms, frames_per_block, bitrate, block_size, channels] = nums as number[];
    const g = { frame_ms, frames_per_block, bitrate, block_size, channels, sample_rate: 48000 };
    const problem = nums.length === 5 ? geometryProblem(g) : `${nums.length} values`;
    if (problem) {
      throw bad(`g must be five positive integers (${G_FIELDS}): ${problem}`);
    }
    geometry = g as StreamGeometry;
  }
  const relayUrl = `${url.origin}${url.pathname.slice(0, at)}`;
  let file: EncryptedFile;
  try {
    file = parseEncryptedFile({
      v: ENCRYPTED_FILE_VERSION,
      key: { kty: 'oct', alg: 'A256GCM', k, ext: true, key_ops: ['encrypt', 'decrypt'] },
      iv,
      url: mxc,
    });
  } catch (err) {
    // checkKey and checkIv apply the same rules: reaching this is a bug, still a bad link.
    throw bad(`key or iv: ${(err as Error).message}`);
  }
  return { relayUrl, mxc, file, geometry };
}

/** The JWK `k`: 32 bytes of base64url, unpadded (RFC 7517 §4, RFC 7518 §6.4.1; docs/format.md). */
function checkKey(k: string): string {
  const bytes = decodeBase64Url(k);
  if (typeof bytes === 'string' || bytes.length !== KEY_SIZE) {
    const why = typeof bytes === 'string' ? bytes : `${bytes.length} bytes`;
    throw bad(`key must be ${KEY_SIZE} bytes of url-safe base64 (k): ${why}`);
  }
  return k;
}

/** The EncryptedFile `iv`: 12 bytes of standard base64, unpadded (Matrix "Unpadded Base64"). */
function checkIv(iv: string): string {
  const bytes = decodeBase64(iv);
  if (typeof bytes === 'string' || bytes.length !== FILE_IV_SIZE) {
    const why = typeof bytes === 'string' ? bytes : `${bytes.length} bytes`;
    throw bad(`iv must be ${FILE_IV_SIZE} bytes of standard base64: ${why}`);
  }
  return iv;
}

/** Every refusal says "bad listen link" first, so a user knows the link, not the relay, is wrong. */
function bad(message: string): ClientError {
  return new ClientError('BAD_ARGUMENT', `bad listen link: ${message}`);
}

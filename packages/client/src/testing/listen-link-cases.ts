/**
 * A table of listen links for tests: the right key and IV written every way a person or another
 * client might write them. Each case says whether every parser must accept it (and then decode
 * the same key and IV) or refuse it as a bad link, and with what message. The client's unit test,
 * the CLI's end-to-end test and anything else that reads links run the same table, so the rule
 * cannot drift between them (docs/listen-link.md "Key and IV").
 */
import { encodeBase64, encodeBase64Url } from '@mxcast/format';

export interface ListenLinkCase {
  name: string;
  /** The link for this key and IV: `{base}#mxc=…&k=…&iv=…`, fragment written by hand. */
  link(base: string, mxc: string, key: Uint8Array, iv: Uint8Array): string;
  /** Refused, with a message matching this; undefined: accepted as the same key and IV. */
  refused?: RegExp;
}

/**
 * A key and IV whose encodings hold every character the two alphabets disagree on: `k` starts
 * `-_-_` in base64url (`+/+/` in standard base64) and `iv` starts `+/+/`, so the canonical
 * link carries a bare `+` and `/` in `iv`, and the cases below have something to get wrong.
 * The rest is random. Broadcast with this key to run the table against a real stream.
 */
export function tableSecrets(): { key: Uint8Array; iv: Uint8Array } {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  key.set([0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf]);
  iv.set([0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf]);
  return { key, iv };
}

/** A fragment written as a person would paste it: `k` and `iv` exactly as given (no escaping). */
function linkOf(base: string, mxc: string, k: string, iv: string): string {
  return `${base}#mxc=${encodeURIComponent(mxc)}&k=${k}&iv=${iv}`;
}

/** The first character swapped for `c` (the rest stays a valid encoding of 32 or 12 bytes). */
const withFirst = (text: string, c: string) => c + text.slice(1);

export const LISTEN_LINK_CASES: readonly ListenLinkCase[] = [
  {
    name: 'canonical: k base64url, iv standard base64, both unpadded',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k), encodeBase64(iv)),
  },
  {
    name: 'k with its one correct "=" of padding',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k) + '=', encodeBase64(iv)),
  },
  {
    name: 'k and iv percent-encoded (URLSearchParams writes them so)',
    link: (b, m, k, iv) =>
      linkOf(b, m, encodeURIComponent(encodeBase64Url(k)), encodeURIComponent(encodeBase64(iv))),
  },
  {
    name: 'k with two "=" (wrong padding)',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k) + '==', encodeBase64(iv)),
    refused: /key must be 32 bytes of url-safe base64 \(k\): padding/,
  },
  {
    name: 'k with "/" (standard alphabet, not base64url)',
    link: (b, m, k, iv) => linkOf(b, m, withFirst(encodeBase64Url(k), '/'), encodeBase64(iv)),
    refused: /key must be 32 bytes of url-safe base64 \(k\): character "\/" at 0/,
  },
  {
    name: 'k with "+" percent-encoded (standard alphabet)',
    link: (b, m, k, iv) => linkOf(b, m, withFirst(encodeBase64Url(k), '%2B'), encodeBase64(iv)),
    refused: /key must be 32 bytes of url-safe base64 \(k\): character "\+" at 0/,
  },
  {
    name: 'k with a bare "+" (standard alphabet, unescaped)',
    link: (b, m, k, iv) => linkOf(b, m, withFirst(encodeBase64Url(k), '+'), encodeBase64(iv)),
    refused: /key must be 32 bytes of url-safe base64 \(k\): character "\+" at 0/,
  },
  {
    name: 'k of 31 bytes',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k.subarray(1)), encodeBase64(iv)),
    refused: /key must be 32 bytes of url-safe base64 \(k\): 31 bytes/,
  },
  {
    name: 'k of 33 bytes',
    link: (b, m, k, iv) =>
      linkOf(b, m, encodeBase64Url(new Uint8Array([...k, 0])), encodeBase64(iv)),
    refused: /key must be 32 bytes of url-safe base64 \(k\): 33 bytes/,
  },
  {
    name: 'iv with "-" (base64url, not the standard alphabet)',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k), withFirst(encodeBase64(iv), '-')),
    refused: /iv must be 12 bytes of standard base64: character "-" at 0/,
  },
  {
    name: 'iv with "_"',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k), withFirst(encodeBase64(iv), '_')),
    refused: /iv must be 12 bytes of standard base64: character "_" at 0/,
  },
  {
    name: 'iv with a "=" it does not need',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k), encodeBase64(iv) + '%3D'),
    refused: /iv must be 12 bytes of standard base64: padding/,
  },
  {
    name: 'iv of 11 bytes',
    link: (b, m, k, iv) => linkOf(b, m, encodeBase64Url(k), encodeBase64(iv.subarray(1))),
    refused: /iv must be 12 bytes of standard base64: 11 bytes/,
  },
  {
    name: 'iv of 16 bytes (a whole GCM IV, not the file IV)',
    link: (b, m, k, iv) =>
      linkOf(b, m, encodeBase64Url(k), encodeBase64(new Uint8Array([0, 0, 0, 0, ...iv]))),
    refused: /iv must be 12 bytes of standard base64: 16 bytes/,
  },
];

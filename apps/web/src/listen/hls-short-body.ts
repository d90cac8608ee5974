/**
 * A fragment body shorter than the byte range hls.js asked for is first taken for a transport
 * fault, not the relay lying about framing: Chromium's HTTP cache can answer a Range request
 * from a partial entry an earlier (aborted) read left behind and end the body where that entry
 * ends (seen under load: a segment cut at byte 4096 after a reload). So the missing tail is
 * fetched once more from the network, past the cache (`fetch` with `cache: 'no-store'`, which
 * adds no header, so no CORS preflight beyond the Range and Authorization the relay already
 * allows).
 *
 * Once the relay itself has been asked and its answer still stops short of the range (a 206
 * with fewer bytes, a Content-Range that is not the tail asked for, a 416 for bytes its own
 * playlist lists), the relay is contradicting its playlist: that is tampering (docs/web.md
 * "What the HLS view checks"), fatal, RemuxError TAMPERED. Only a genuine transport failure
 * (fetch rejects, the connection is reset, the relay answers 5xx or another error status)
 * stays a load error that hls.js retries and finally reports as NETWORK.
 */
import { RemuxError } from './hls-segment-remuxer.ts';

/** Fetches bytes [start, end) of the fragment's resource from the network. */
export type RangeFetch = (start: number, end: number) => Promise<Uint8Array>;

/** A load error: retried by hls.js, reported as NETWORK if it persists. */
export class ShortBodyError extends Error {
  override name = 'ShortBodyError';
}

function stopsShort(start: number, end: number, detail: string): RemuxError {
  return new RemuxError(
    'TAMPERED',
    `the relay's bytes stop short of what its playlist lists: range ${start}-${end - 1}, ${detail}`,
  );
}

/**
 * `bytes` as received for the range [start, end); the same range whole, its missing tail
 * fetched with `fetchRange`; RemuxError TAMPERED when the network's own answer does not
 * complete it; whatever `fetchRange` throws (a transport failure) otherwise.
 */
export async function completeBody(
  bytes: Uint8Array,
  start: number,
  end: number | undefined,
  fetchRange: RangeFetch,
): Promise<Uint8Array> {
  if (end === undefined || end <= start) return bytes;
  const want = end - start;
  if (bytes.length === want) return bytes;
  if (bytes.length > want)
    throw new ShortBodyError(`${bytes.length} bytes for a range of ${want} at ${start}`);
  const tail = await fetchRange(start + bytes.length, end);
  if (tail.length !== want - bytes.length)
    throw stopsShort(
      start,
      end,
      `${bytes.length} bytes, then from the network ${tail.length} of the missing ${want - bytes.length}`,
    );
  const whole = new Uint8Array(want);
  whole.set(bytes, 0);
  whole.set(tail, bytes.length);
  return whole;
}

/**
 * The network fetch for completeBody: a Range GET past the HTTP cache. A 206 must carry exactly
 * the range asked for; a 200 (Range ignored) must hold it; a 416 says the listed bytes do not
 * exist. Any of those falling short is TAMPERED; other error statuses are load errors.
 */
export function networkRangeFetch(url: string, accessToken?: string): RangeFetch {
  return async (start, end) => {
    const res = await fetch(url, {
      cache: 'no-store',
      headers: {
        Range: `bytes=${start}-${end - 1}`,
        ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      },
    });
    if (res.status === 416) throw stopsShort(start, end, 'the relay answers 416 for it');
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\//.exec(res.headers.get('content-range') ?? '');
      const body = new Uint8Array(await res.arrayBuffer());
      if (!range || Number(range[1]) !== start || Number(range[2]) !== end - 1)
        throw stopsShort(
          start,
          end,
          `the relay answers Content-Range ${res.headers.get('content-range') ?? '(none)'}`,
        );
      return body;
    }
    if (res.status === 200) {
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.length < end)
        throw stopsShort(start, end, `the relay's whole resource is ${body.length} bytes`);
      return body.subarray(start, end);
    }
    throw new ShortBodyError(`range ${start}-${end - 1}: HTTP ${res.status}`);
  };
}

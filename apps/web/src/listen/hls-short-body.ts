/**
 * A fragment body shorter than the byte range hls.js asked for is a transport failure, not the
 * relay lying about framing: Chromium's HTTP cache can answer a Range request from a partial
 * entry an earlier (aborted) read left behind and end the body where that entry ends (seen
 * under load: a segment cut at byte 4096 after a reload). Framing that short body would stop
 * playback as TAMPERED. The missing tail is fetched once more from the network, past the cache
 * (`fetch` with `cache: 'no-store'`, which adds no header, so no CORS preflight beyond the
 * Range and Authorization the relay already allows); still short, it stays a load error that
 * hls.js retries.
 */

/** Fetches bytes [start, end) of the fragment's resource from the network. */
export type RangeFetch = (start: number, end: number) => Promise<Uint8Array>;

export class ShortBodyError extends Error {
  override name = 'ShortBodyError';
}

/**
 * `bytes` as received for the range [start, end); the same range whole, its missing tail
 * fetched with `fetchRange`; ShortBodyError when it still does not add up.
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
    throw new ShortBodyError(
      `range ${start}-${end - 1}: ${bytes.length} bytes, then ${tail.length} of the missing ${want - bytes.length}`,
    );
  const whole = new Uint8Array(want);
  whole.set(bytes, 0);
  whole.set(tail, bytes.length);
  return whole;
}

/** The network fetch for completeBody: a Range GET past the HTTP cache, 206 and exact. */
export function networkRangeFetch(url: string, accessToken?: string): RangeFetch {
  return async (start, end) => {
    const res = await fetch(url, {
      cache: 'no-store',
      headers: {
        Range: `bytes=${start}-${end - 1}`,
        ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      },
    });
    if (res.status !== 206)
      throw new ShortBodyError(`range ${start}-${end - 1}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
}

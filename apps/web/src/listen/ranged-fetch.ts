/**
 * A download's bytes as a stream fetched one Range at a time (RFC 9110 §14), each request made
 * only when the stream's reader asks for more: the download service worker (download-sw.ts)
 * holds at most one range of ciphertext, however long the recording and however slowly the
 * browser writes the file.
 *
 * Why not one fetch and its body: Chromium reads a fetch body from the network ahead of the
 * reader, into the worker's memory, whatever the stream's backpressure — measured on a 4-hour
 * recording from a relay on loopback, the worker held ~35 MB of a 57 MB file at the peak, 63 MB
 * of 115 MB over 8 hours (bench/web/download-memory.ts; docs/web.md "Download the recording").
 * A closed range is read whole (`arrayBuffer()`), so what is in memory is bounded by
 * RANGE_BYTES instead.
 *
 * A server that ignores Range (`200`) gets the old way: its body, streamed.
 */

/** Bytes per request: ~1 s of download at loopback speed, a few hundred requests for 4 hours. */
export const RANGE_BYTES = 1 << 20;

export interface RangedFetch {
  /** The file's bytes; errors (and the download fails) on any answer but the next range. */
  body: ReadableStream<Uint8Array>;
}

/**
 * Fetches the first range now, so that a refused download (401, 404…) is known before the
 * worker answers the browser: resolves to that answer when it is not a 200 or 206.
 */
export async function rangedFetch(
  url: string,
  headers: Record<string, string>,
  rangeBytes = RANGE_BYTES,
): Promise<RangedFetch | Response> {
  let offset = 0;
  /** The file's size, from `Content-Range: bytes a-b/size` (RFC 9110 §14.4). */
  let size = Infinity;
  const abort = new AbortController();
  const get = (): Promise<Response> =>
    fetch(url, {
      headers: { ...headers, Range: `bytes=${offset}-${offset + rangeBytes - 1}` },
      // Read once: not kept in the browser's HTTP cache (in memory for a private profile).
      cache: 'no-store',
      signal: abort.signal,
    });
  const first = await get();
  if (first.status === 200 && first.body) return { body: first.body };
  if (first.status !== 206) return first;
  let next: Response | null = first;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const res: Response = next ?? (await get());
        next = null;
        if (res.status !== 206) throw new Error(`the relay answered ${res.status} at ${offset}`);
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('Content-Range') ?? '');
        if (!range || Number(range[1]) !== offset)
          throw new Error(
            `a range not asked for at ${offset}: ${res.headers.get('Content-Range')}`,
          );
        if (range[3] !== '*') size = Number(range[3]);
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (bytes.length !== Number(range[2]) - offset + 1)
          throw new Error(`range at ${offset} cut short: ${bytes.length} bytes`);
        offset += bytes.length;
        controller.enqueue(bytes);
        // The file is complete before a download starts (listener-page.ts): its size is known.
        if (offset >= size) controller.close();
      },
      cancel(reason) {
        abort.abort(reason);
      },
    },
    // Nothing fetched ahead of the reader: the next range only when it asks.
    { highWaterMark: 0 },
  );
  return { body };
}

/**
 * `GET /_matrix/client/v1/media/download/{S}/{ID}[/{fileName}]`: the file as it grows (RFC 9110
 * §14 Range: `bytes=N-`, `bytes=N-M`, `bytes=-K` once complete). Bytes at an offset never change
 * once stored (append-only), so a closed range already stored is cacheable even while live; the
 * whole response is cacheable only once complete. `timeout_ms` waits for a media not yet uploaded
 * (MSC2246: then 504 M_NOT_YET_UPLOADED).
 */
import type { Context, Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';
import { cancelledError } from '../core/media-store.ts';
import { RelayError } from '../core/relay-error.ts';
import { DOWNLOAD_PATH } from '@mxcast/protocol';
import { historyPacingOf } from '../core/history-pacing.ts';
import { RESPONSE_HEADERS } from '../core/response-headers.ts';
import { pumpDownload } from '../fanout/download-pump.ts';
import { WebStreamSink } from '../fanout/web-stream-sink.ts';
import type { MediaRecord } from '../storage/media-record.ts';

/** MSC2246: the default wait for media not yet uploaded. */
const DEFAULT_WAIT_MS = 20_000;
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function mountDownloadRoute(app: Hono, core: RelayCore): void {
  const handler = async (c: Context) => {
    const url = new URL(c.req.url);
    // The id first: one the relay does not hold is 404 before any token check, so nginx's
    // fallback serves the homeserver's own media (docs/matrix.md). Ids are 144-bit random: the
    // 404/401 difference tells nothing a guess could use.
    const rec = await core.store.requireReadable(
      c.req.param('server') ?? '',
      c.req.param('id') ?? '',
    );
    // Undefined for an anonymous download or a cached token: no await, no microtask turn.
    const authorizing = core.authorizeDownload(c.req.header('authorization'), url);
    if (authorizing) await authorizing;
    if (rec.state === 'pending') await waitForBytes(core, rec, url);
    if (rec.state === 'cancelled') throw cancelledError(rec);
    const complete = rec.state === 'complete';
    const etag = complete ? `"${rec.sha256 ?? rec.id}"` : `W/"${rec.id}-${rec.byteLength}"`;
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: etag,
      'Cache-Control': complete ? IMMUTABLE : 'no-store',
    };
    const fileName = c.req.param('fileName');
    if (fileName)
      headers['Content-Disposition'] = `inline; filename*=UTF-8''${encodeURIComponent(fileName)}`;
    if (complete && c.req.header('if-none-match') === etag) return c.body(null, 304, headers);

    const range = parseRange(c.req.header('range'), complete ? rec.byteLength : null);
    if (range === 'unsatisfiable') {
      throw new RelayError(
        'M_RANGE_NOT_SATISFIABLE',
        `range ${c.req.header('range')} is past the end (${rec.byteLength} bytes)`,
        {
          headers: { 'Content-Range': `bytes */${rec.byteLength}` },
        },
      );
    }
    let status = 200;
    let start = 0;
    let end: number | null = complete ? rec.byteLength - 1 : null;
    if (range) {
      status = 206;
      start = range.start;
      end = range.end ?? (complete ? rec.byteLength - 1 : null);
      const total = complete ? String(rec.byteLength) : '*';
      // RFC 9110 §14.4/§8.6: an end and a length are promised only once those bytes are stored. A
      // live media may complete short of a closed range's end, so such a range is answered like an
      // open one (`N-*\/*`, no Content-Length, chunked): it stops at M or where the media ends.
      const known = end !== null && (complete || end < rec.byteLength);
      headers['Content-Range'] = `bytes ${start}-${known ? end : '*'}/${total}`;
      if (!complete && known) headers['Cache-Control'] = IMMUTABLE;
    }
    if (end !== null && (complete || end < rec.byteLength))
      headers['Content-Length'] = String(end - start + 1);
    if (c.req.method === 'HEAD') return c.body(null, status as 200, headers);

    core.checkListenerLimits(rec.listeners);
    const leave = rec.join('http');
    const direct = core.directDownload?.(c, status, { ...RESPONSE_HEADERS, ...headers }) ?? null;
    const sink = direct?.sink ?? new WebStreamSink();
    pumpDownload({
      rec,
      start,
      end,
      backlogBytes: core.config.limits.listenerBacklogBytes,
      sink,
      // Both sinks (web stream, Node direct) get the relay's history pacing the same way.
      history: historyPacingOf(core),
      onBytes: (n) => (core.metrics.bytesOut += n),
      onDropped: () => core.metrics.listenersDropped++,
      onClose: leave,
    });
    if (direct) return direct.response;
    return new Response((sink as WebStreamSink).stream, { status, headers });
  };
  app.get(`${DOWNLOAD_PATH}/:server/:id`, handler);
  app.get(`${DOWNLOAD_PATH}/:server/:id/:fileName`, handler);
}

async function waitForBytes(core: RelayCore, rec: MediaRecord, url: URL): Promise<void> {
  const asked = url.searchParams.get('timeout_ms');
  let wait = DEFAULT_WAIT_MS;
  if (asked !== null) {
    if (!/^\d{1,12}$/.test(asked))
      throw new RelayError(
        'M_INVALID_PARAM',
        `timeout_ms must be a non-negative integer, got '${asked}'`,
      );
    wait = Number(asked);
  }
  wait = Math.min(wait, core.config.limits.maxDownloadWaitMs);
  if (wait > 0) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        rec.changeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      rec.changeWaiters.add(done);
    });
  }
  if (rec.state === 'pending') {
    throw new RelayError('M_NOT_YET_UPLOADED', `media has no bytes yet after waiting ${wait} ms`);
  }
}

export interface ByteRange {
  start: number;
  end: number | null;
}

/**
 * Parses a single `bytes=` range (RFC 9110 §14.1.2). `total` is the complete length, or null while
 * the file grows (then a suffix range is refused and no start is "past the end"). Returns null to
 * ignore the header (absent, malformed or several ranges: a 200 is a valid answer to those).
 */
export function parseRange(
  header: string | undefined,
  total: number | null,
): ByteRange | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    if (total === null) return null;
    const k = Number(b);
    if (k === 0) return 'unsatisfiable';
    return { start: Math.max(0, total - k), end: total - 1 };
  }
  const start = Number(a);
  let end = b === '' ? null : Number(b);
  if (end !== null && end < start) return null;
  if (total !== null) {
    if (start >= total) return 'unsatisfiable';
    end = Math.min(end ?? total - 1, total - 1);
  }
  return { start, end };
}

/**
 * `PUT /_matrix/media/v3/upload/{S}/{ID}`: the streaming upload. The request body is framed and
 * stored block by block as it arrives; a clean end completes the media, a cut connection leaves it
 * live at its last whole block (tus HEAD tells where), and `Content-Range: bytes N-*\/*` continues
 * it from N (docs/protocol.md).
 */
import type { Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError, errorResponse, toRelayError } from '../core/relay-error.ts';
import { UPLOAD_PATH, formatMxc } from '@mxcast/protocol';
import { UploadSession } from '../core/upload-session.ts';

export function mountUploadRoute(app: Hono, core: RelayCore): void {
  app.put(`${UPLOAD_PATH}/:server/:id`, async (c) => {
    const user = await core.authenticate(c.req.header('authorization'), new URL(c.req.url));
    const rec = core.store.require(c.req.param('server'), c.req.param('id'));
    const offset = parseContentRangeStart(c.req.header('content-range'));
    const session = UploadSession.open(core.store, core.config, rec, user, offset);
    const outcome = await pumpBody(
      c.req.raw.body,
      session,
      (chunk) => session.push(chunk),
      core.config.limits.uploadIdleTimeoutMs,
    );
    if (outcome === 'aborted') {
      session.close();
      return c.body(null, 499 as never);
    }
    if (outcome instanceof RelayError) {
      session.close();
      core.metrics.countError(outcome.code);
      return errorResponse(outcome, { connection: 'close' });
    }
    try {
      await session.finish();
    } finally {
      session.close();
    }
    return c.json({ content_uri: formatMxc(core.config.serverName, rec.id), sha256: rec.sha256 });
  });
}

/** `bytes N-*\/*` (the form the client sends to continue) → N; absent → 0. */
export function parseContentRangeStart(header: string | undefined): number {
  if (header === undefined) return 0;
  const m = /^bytes (\d+)-(?:\d+|\*)\/(?:\d+|\*)$/.exec(header.trim());
  if (!m) throw new RelayError('M_INVALID_PARAM', `Content-Range '${header}' is not 'bytes N-*/*'`);
  return Number(m[1]);
}

/**
 * Feeds a request body to `push` chunk by chunk. Resolves 'done' on a clean end, 'aborted' when the
 * client went away mid-body or a newer upload took over, or the RelayError `push` threw (the rest
 * of the body is discarded).
 */
export async function pumpBody(
  body: ReadableStream<Uint8Array> | null,
  session: UploadSession,
  push: (chunk: Uint8Array) => void,
  idleTimeoutMs: number,
): Promise<'done' | 'aborted' | RelayError> {
  if (!body) return 'done';
  const reader = body.getReader();
  // A newer upload took over: cancelling the body destroys this request's connection.
  session.onPreempt(() => void reader.cancel().catch(() => {}));
  for (;;) {
    let result: ReadableStreamReadResult<Uint8Array>;
    const idle = setTimeout(() => {
      session.close();
      reader.cancel().catch(() => {});
    }, idleTimeoutMs);
    try {
      result = await reader.read();
    } catch {
      return 'aborted';
    } finally {
      clearTimeout(idle);
    }
    if (session.preempted) {
      return new RelayError('M_CONFLICT', 'a newer upload to this media took over from this one');
    }
    if (session.isClosed) return 'aborted';
    if (result.done) return 'done';
    try {
      push(result.value);
    } catch (err) {
      reader.cancel().catch(() => {});
      return toRelayError(err);
    }
  }
}

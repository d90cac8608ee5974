/**
 * The body guard on the core alone (web Request/Response, no Node adapter): which routes take a
 * body, and that a chunked JSON body is read only up to maxJsonBodyBytes — the stream is pulled
 * no further once the limit is passed, it is not buffered whole.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './relay-config.ts';
import { errorResponse, type RelayError } from './relay-error.ts';
import { bodyKind, declaresBody, requestBodyGuard } from './request-body-guard.ts';

const limits = { ...DEFAULT_LIMITS, maxJsonBodyBytes: 1024, requestTimeoutMs: 300 };

function guardedApp(): Hono {
  const app = new Hono();
  app.use('*', requestBodyGuard(limits));
  app.post('/_matrix/media/v1/create', async (c) => c.json({ got: (await c.req.text()).length }));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.onError((err) => errorResponse(err as RelayError));
  return app;
}

/** An endless body: 256-byte chunks, counting how many bytes were pulled from it. */
/** Sends a chunked body (no content-length) to the guarded app, as a streaming client would. */
function sendChunked(path: string, method: string, body: ReadableStream<Uint8Array>) {
  const init = { method, body, headers: { 'transfer-encoding': 'chunked' }, duplex: 'half' };
  return guardedApp().request(path, init as RequestInit);
}

function endlessBody() {
  const counter = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      counter.pulled += 256;
      controller.enqueue(new Uint8Array(256));
    },
  });
  return { stream, counter };
}

describe('request body guard', () => {
  it('knows which routes take a body', () => {
    expect(bodyKind('PUT', '/_matrix/media/v3/upload/localhost/x')).toBe('stream');
    expect(bodyKind('PATCH', '/_matrix/media/unstable/org.matrix.msc4016/tus/localhost/x')).toBe(
      'stream',
    );
    expect(bodyKind('POST', '/_matrix/media/v1/create')).toBe('json');
    expect(bodyKind('POST', '/_matrix/media/unstable/org.matrix.msc4016/tus')).toBe('json');
    expect(bodyKind('GET', '/health')).toBe('none');
    expect(bodyKind('PUT', '/health')).toBe('none');
    expect(bodyKind('DELETE', '/_matrix/media/unstable/org.matrix.msc4016/media/localhost/x')).toBe(
      'none',
    );
    expect(declaresBody(new Headers({ 'content-length': '0' }))).toBe(false);
    expect(declaresBody(new Headers({ 'content-length': '3' }))).toBe(true);
    expect(declaresBody(new Headers({ 'transfer-encoding': 'chunked' }))).toBe(true);
    expect(declaresBody(new Headers())).toBe(false);
  });

  it('refuses a body on a route that takes none without pulling from it', async () => {
    const { stream, counter } = endlessBody();
    const res = await sendChunked('/health', 'PUT', stream);
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toMatchObject({
      errcode: 'M_TOO_LARGE',
      'org.matrix.msc4016.reason': 'BODY_NOT_ALLOWED',
    });
    // A ReadableStream pulls up to its high-water mark (1 chunk) on its own; nothing more.
    expect(counter.pulled).toBeLessThanOrEqual(256);
  });

  it('stops pulling an endless chunked JSON body just past maxJsonBodyBytes', async () => {
    const { stream, counter } = endlessBody();
    const res = await sendChunked('/_matrix/media/v1/create', 'POST', stream);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ 'org.matrix.msc4016.reason': 'BODY_TOO_LARGE' });
    expect(counter.pulled).toBeGreaterThan(1024);
    expect(counter.pulled).toBeLessThanOrEqual(1024 + 3 * 256);
  });

  it('answers 408 when a JSON body does not arrive within requestTimeoutMs', async () => {
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"a":'));
      },
    });
    const started = performance.now();
    const res = await sendChunked('/_matrix/media/v1/create', 'POST', stalled);
    expect(res.status).toBe(408);
    expect(await res.json()).toMatchObject({
      errcode: 'M_LIMIT_EXCEEDED',
      'org.matrix.msc4016.reason': 'REQUEST_TIMEOUT',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('passes a JSON body within the limit to the route, whole', async () => {
    const app = guardedApp();
    const res = await app.request('/_matrix/media/v1/create', {
      method: 'POST',
      body: 'x'.repeat(1000),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ got: 1000 });
    const big = await app.request('/_matrix/media/v1/create', {
      method: 'POST',
      body: 'x'.repeat(1025),
    });
    expect(big.status).toBe(413);
  });
});

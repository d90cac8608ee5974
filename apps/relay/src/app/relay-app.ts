/**
 * The relay's HTTP core: a Hono app over web Request/Response. Routes throw RelayError; the one
 * onError here turns it into Matrix JSON and counts it. Every response carries the relay's common
 * headers (CORS, nosniff: core/response-headers.ts).
 * Request bodies are bounded before any route runs (request-body-guard.ts).
 */
import { Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';
import { lostRaceError } from '../core/media-store.ts';
import { DAMAGED_REASON } from '../core/media-integrity.ts';
import { RelayError, errorResponse, toRelayError } from '../core/relay-error.ts';
import { requestBodyGuard } from '../core/request-body-guard.ts';
import { RESPONSE_HEADERS } from '../core/response-headers.ts';
import { mountCreateRoute } from '../routes/create-route.ts';
import { mountDownloadRoute } from '../routes/download-route.ts';
import { mountHlsRoute } from '../routes/hls-route.ts';
import { mountIndexRoutes } from '../routes/index-routes.ts';
import { mountServiceRoutes } from '../routes/service-routes.ts';
import { mountStaticRoutes } from '../routes/static-routes.ts';
import { mountTusRoutes } from '../routes/tus-routes.ts';
import { mountUploadRoute } from '../routes/upload-route.ts';

export function createRelayApp(core: RelayCore): Hono {
  const app = new Hono();

  // First: a body where none belongs is refused before any route (or CORS preflight) sees it.
  app.use('*', requestBodyGuard(core.config.limits));
  app.use('*', async (c, next) => {
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method')) {
      return c.body(null, 204, { ...RESPONSE_HEADERS, 'Access-Control-Max-Age': '86400' });
    }
    await next();
    for (const [k, v] of Object.entries(RESPONSE_HEADERS)) c.res.headers.set(k, v);
  });

  // Cluster mode: a media another node created is adopted (row and blocks from JetStream, then
  // one tail) before any route looks it up synchronously (core/cluster-replica.ts).
  if (core.store.replica) {
    app.use('*', async (c, next) => {
      const parts = new URL(c.req.url).pathname.split('/');
      const at = parts.indexOf(core.config.serverName);
      const id = at > 0 ? parts[at + 1] : undefined;
      if (!id) {
        await next();
        // A create is answered once its row is in the bucket, so another node knows the id.
        if (c.req.method === 'POST') await core.store.replica?.settledAll();
        return;
      }
      await core.store.adopt(core.config.serverName, id);
      const replica = core.store.replica;
      const lostBefore = replica?.racesLostOn(id) ?? 0;
      await next();
      // An upload is answered once what it stored is in JetStream, and with 409 when another
      // node's upload of the same media got there first (exactly one of two racing uploads wins).
      if (replica && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        await replica.settled(id);
        if (replica.racesLostOn(id) > lostBefore) c.res = errorResponse(lostRaceError());
      }
    });
  }

  mountServiceRoutes(app, core);
  mountCreateRoute(app, core);
  mountUploadRoute(app, core);
  mountTusRoutes(app, core);
  mountDownloadRoute(app, core);
  mountIndexRoutes(app, core);
  mountHlsRoute(app, core);
  if (core.config.webRoot) mountStaticRoutes(app, core.config.webRoot);

  app.notFound((c) => {
    const err = new RelayError(
      'M_UNRECOGNIZED',
      `unrecognized request: ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}`,
    );
    core.metrics.countError(err.code);
    return errorResponse(err, { ...RESPONSE_HEADERS });
  });
  app.onError((thrown) => {
    const err = toRelayError(thrown);
    // A damaged media was logged once when found (media-integrity.ts), not on every request.
    if (err.code === 'M_UNKNOWN' && err.fields['org.matrix.msc4016.reason'] !== DAMAGED_REASON)
      core.config.log?.(`internal error: ${(thrown as Error)?.stack ?? String(thrown)}`);
    core.metrics.countError(err.code);
    return errorResponse(err, { ...RESPONSE_HEADERS });
  });
  return app;
}

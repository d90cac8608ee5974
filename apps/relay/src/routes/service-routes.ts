/** `/health` and `/metrics` (Prometheus text format 0.0.4). */
import type { Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';

export function mountServiceRoutes(app: Hono, core: RelayCore): void {
  app.get('/health', (c) => c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' }));
  // /metrics tells how many listen to what: as private as downloads (auth.requireTokenForDownload).
  app.get('/metrics', async (c) => {
    await core.authorizeDownload(c.req.header('authorization'), new URL(c.req.url));
    return c.body(
      core.metrics.render({
        liveStreams: core.store.liveCount,
        wsListeners: core.store.wsListeners,
        httpListeners: core.store.httpListeners,
        activeUploads: core.store.activeUploads,
        queuedBytes: core.queuedBytes(),
      }),
      200,
      { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
    );
  });
}

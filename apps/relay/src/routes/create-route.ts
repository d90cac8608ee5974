/**
 * `POST /_matrix/media/v1/create` (MSC2246): reserves a media id for the caller. The optional body
 * declares the stream geometry in clear (docs/protocol.md), which the HLS view needs; it is
 * checked strictly (core/geometry-check.ts). The per-user quotas are checked by the store.
 */
import type { Hono } from 'hono';
import { GEOMETRY_KEY, readGeometry } from '../core/geometry-check.ts';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError } from '../core/relay-error.ts';
import { CREATE_PATH, formatMxc, type DeclaredStreamGeometry } from '@mxcast/protocol';

export { GEOMETRY_KEY };

export function mountCreateRoute(app: Hono, core: RelayCore): void {
  // The body's size and time are bounded before this runs (core/request-body-guard.ts).
  app.post(CREATE_PATH, async (c) => {
    const user = await core.authenticate(c.req.header('authorization'), new URL(c.req.url));
    const geometry = parseGeometry(await c.req.text(), core.config.limits.maxBlockLength);
    const created = core.store.create(user, geometry);
    // Cluster mode: answered once the row is in the bucket, or 429 by the cluster's quotas.
    await core.store.replica?.settled(created.id);
    return c.json({
      content_uri: formatMxc(core.config.serverName, created.id),
      unused_expires_at: created.unusedExpiresAt,
    });
  });
}

/** The geometry declared in a create body, or null; M_BAD_JSON / M_INVALID_PARAM otherwise. */
export function parseGeometry(body: string, maxBlockLength: number): DeclaredStreamGeometry | null {
  if (body.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new RelayError('M_BAD_JSON', 'request body is not JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new RelayError('M_BAD_JSON', 'request body is not a JSON object');
  return readGeometry(json as Record<string, unknown>, maxBlockLength);
}

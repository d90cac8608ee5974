/**
 * `POST /_matrix/media/v1/create` (MSC2246): reserves a media id for the caller. The optional body
 * declares the stream geometry in clear (docs/protocol.md), which the HLS view needs.
 */
import type { Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError } from '../core/relay-error.ts';
import { CREATE_PATH, mxcUri } from '../core/relay-paths.ts';
import type { StreamGeometry } from '../storage/media-record.ts';

export const GEOMETRY_KEY = 'org.matrix.msc4016.geometry';

export function mountCreateRoute(app: Hono, core: RelayCore): void {
  app.post(CREATE_PATH, async (c) => {
    const user = core.authenticate(c.req.header('authorization'), new URL(c.req.url));
    const geometry = parseGeometry(await c.req.text());
    const rec = core.store.create(user, geometry);
    return c.json({
      content_uri: mxcUri(core.config.serverName, rec.id),
      unused_expires_at: rec.unusedExpiresAt,
    });
  });
}

export function parseGeometry(body: string): StreamGeometry | null {
  if (body.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new RelayError('M_BAD_JSON', 'request body is not JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new RelayError('M_BAD_JSON', 'request body is not a JSON object');
  const g = (json as Record<string, unknown>)[GEOMETRY_KEY];
  if (g === undefined || g === null) return null;
  if (typeof g !== 'object' || Array.isArray(g))
    throw new RelayError('M_INVALID_PARAM', `${GEOMETRY_KEY} must be an object`);
  const rec = g as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const key of [
    'frame_ms',
    'frames_per_block',
    'block_size',
    'bitrate',
    'sample_rate',
    'channels',
  ]) {
    const v = rec[key];
    const required = key === 'frame_ms' || key === 'frames_per_block' || key === 'block_size';
    if (v === undefined && !required) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1e9) {
      throw new RelayError(
        'M_INVALID_PARAM',
        `${GEOMETRY_KEY}.${key} must be a positive number, got ${JSON.stringify(v)}`,
      );
    }
    out[key] = v;
  }
  return out as unknown as StreamGeometry;
}

/**
 * `GET {P}/index/{S}/{ID}` (the block index: state, lengths, where blocks start) and the owner's
 * `DELETE {P}/media/{S}/{ID}` (docs/protocol.md).
 */
import type { Hono } from 'hono';
import { INDEX_DEFAULT_COUNT, INDEX_MAX_COUNT, type MediaIndex } from '@mxcast/protocol';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError } from '../core/relay-error.ts';
import { INDEX_PATH, MEDIA_PATH } from '@mxcast/protocol';
import type { MediaRecord } from '../storage/media-record.ts';

export function mountIndexRoutes(app: Hono, core: RelayCore): void {
  app.get(`${INDEX_PATH}/:server/:id`, async (c) => {
    const url = new URL(c.req.url);
    // Looked up before the token check, like downloads (core/relay-core.ts authorizeDownload).
    const rec = await core.store.requireReadable(c.req.param('server'), c.req.param('id'));
    await core.authorizeDownload(c.req.header('authorization'), url);
    const body: MediaIndex = indexOf(rec);
    const from = url.searchParams.get('from');
    if (from !== null) {
      const start = parseCount(from, 'from');
      const count = Math.min(
        parseCount(url.searchParams.get('count') ?? String(INDEX_DEFAULT_COUNT), 'count'),
        INDEX_MAX_COUNT,
      );
      const offsets: number[] = [];
      for (let seq = start; seq < Math.min(start + count, rec.blockCount); seq++)
        offsets.push(rec.offsets.at(seq) ?? 0);
      body.from = start;
      body.offsets = offsets;
    }
    return c.json(body, 200, { 'cache-control': 'no-store' });
  });

  app.delete(`${MEDIA_PATH}/:server/:id`, async (c) => {
    const user = await core.authenticate(c.req.header('authorization'), new URL(c.req.url));
    // A damaged media can still be deleted by its owner (docs/operations.md "Damage and repair").
    const rec = core.store.require(c.req.param('server'), c.req.param('id'), {
      damaged: 'allow',
    });
    if (rec.owner !== user)
      throw new RelayError('M_FORBIDDEN', 'only the creator of this media may delete it');
    deleteMedia(core, rec);
    return c.json({});
  });
}

/** Owner deletion: a live (or pending) media is cancelled, finished media are removed. */
export function deleteMedia(core: RelayCore, rec: MediaRecord): void {
  if (rec.state === 'live') core.store.cancel(rec);
  else core.store.remove(rec);
}

/** The index JSON, typed by @mxcast/protocol's MediaIndex: what clients check it against. */
export function indexOf(rec: MediaRecord): MediaIndex {
  const first = rec.offsets.at(0);
  const second = rec.offsets.at(1);
  const third = rec.offsets.at(2);
  return {
    state: rec.state,
    byte_length: rec.byteLength,
    block_count: rec.blockCount,
    byte_order: rec.byteOrder,
    header_end: rec.offsets.at(2) ?? null,
    block_size:
      third !== undefined
        ? (rec.offsets.at(3) ?? rec.byteLength) - third
        : (rec.geometry?.block_size ?? null),
    first_offsets: [first, second].filter((x): x is number => x !== undefined),
    geometry: rec.geometry,
    sha256: rec.sha256,
    listeners: rec.listeners,
    created_at: rec.createdAt,
    // Only while live (docs/protocol.md "Interrupted broadcasts").
    ...(rec.state === 'live' ? { interrupted: rec.interrupted } : {}),
  };
}

function parseCount(v: string, name: string): number {
  if (!/^\d{1,10}$/.test(v))
    throw new RelayError('M_INVALID_PARAM', `${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

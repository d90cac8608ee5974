/**
 * tus 1.0.0 (core protocol + creation, creation-defer-length, termination) at `{P}/tus/{S}/{ID}`:
 * the tus URL of a created mxc is fixed, so creation answers with that same URL and tus-js-client
 * works unchanged. Offsets are always block boundaries: a PATCH body that ends inside a block keeps
 * the whole blocks before it and drops the partial one, and the answer's Upload-Offset says so —
 * the client sends the rest from there (tus 1.0.0 §"PATCH": the server may accept fewer bytes).
 * Upload-Length is set once (creation, or a PATCH while deferred), never under the stored bytes
 * nor over maxMediaBytes; no byte past it is stored or fanned out, and reaching it completes the
 * media (upload-session.ts).
 */
import type { Context, Hono } from 'hono';
import { BLOCK_HEADER_SIZE, MAGIC_SIZE } from '@mxcast/format';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError, errorResponse } from '../core/relay-error.ts';
import { TUS_PATH } from '@mxcast/protocol';
import { UploadSession, checkOffset, checkWritable } from '../core/upload-session.ts';
import type { MediaRecord } from '../storage/media-record.ts';
import { pumpBody } from './upload-route.ts';
import { deleteMedia } from './index-routes.ts';

const TUS_HEADERS = {
  'Tus-Resumable': '1.0.0',
  'Tus-Version': '1.0.0',
  'Tus-Extension': 'creation,creation-defer-length,termination',
};

export function mountTusRoutes(app: Hono, core: RelayCore): void {
  const path = `${TUS_PATH}/:server/:id`;

  const owned = async (c: Context): Promise<MediaRecord> => {
    const user = await core.authenticate(c.req.header('authorization'), new URL(c.req.url));
    const rec = core.store.require(c.req.param('server') ?? '', c.req.param('id') ?? '');
    if (rec.owner !== user)
      throw new RelayError('M_FORBIDDEN', 'only the creator of this media may upload to it');
    return rec;
  };

  const options = (c: Context) =>
    c.body(null, 204, { ...TUS_HEADERS, 'Tus-Max-Size': String(core.config.limits.maxMediaBytes) });
  app.options(TUS_PATH, options);
  app.options(path, options);

  const creation = (c: Context, rec: MediaRecord) => {
    checkWritable(rec);
    const length = c.req.header('upload-length');
    const deferred = c.req.header('upload-defer-length');
    if (length !== undefined) {
      const n = parseOffset(length, 'Upload-Length');
      checkLength(rec, n, core.config.limits.maxMediaBytes);
      if (rec.uploadLength === null) core.store.setUploadLength(rec, n);
    } else if (deferred !== '1') {
      throw new RelayError(
        'M_INVALID_PARAM',
        'tus creation needs Upload-Length or Upload-Defer-Length: 1',
      );
    }
    const location = `${core.publicUrl}${TUS_PATH}/${core.config.serverName}/${rec.id}`;
    return c.body(null, 201, { ...TUS_HEADERS, Location: location });
  };

  // Creation of a new media, as /create would, then the same as for an existing id.
  app.post(TUS_PATH, async (c) => {
    const user = await core.authenticate(c.req.header('authorization'), new URL(c.req.url));
    const created = core.store.create(user, null);
    // create() keeps no record (an unused id costs nothing); this one is about to be used.
    return creation(c, core.store.require(core.config.serverName, created.id));
  });
  app.post(path, async (c) => creation(c, await owned(c)));

  // Hono answers HEAD with the GET route minus the body, so the tus HEAD is registered as GET.
  app.get(path, async (c) => {
    const rec = await owned(c);
    const headers: Record<string, string> = {
      ...TUS_HEADERS,
      'Upload-Offset': String(rec.byteLength),
      'Cache-Control': 'no-store',
    };
    if (rec.state === 'complete') headers['Upload-Length'] = String(rec.byteLength);
    else if (rec.uploadLength !== null) headers['Upload-Length'] = String(rec.uploadLength);
    else headers['Upload-Defer-Length'] = '1';
    if (rec.state === 'cancelled')
      return c.body(null, 410, { ...TUS_HEADERS, 'Cache-Control': 'no-store' });
    return c.body(null, 200, headers);
  });

  app.patch(path, async (c) => {
    const rec = await owned(c);
    const type = c.req.header('content-type') ?? '';
    if (type.split(';')[0]?.trim().toLowerCase() !== 'application/offset+octet-stream') {
      throw new RelayError(
        'M_INVALID_PARAM',
        `Content-Type must be application/offset+octet-stream, got '${type}'`,
        {
          status: 415,
        },
      );
    }
    const offset = parseOffset(c.req.header('upload-offset'), 'Upload-Offset');
    const declared = c.req.header('upload-length');
    const length = declared === undefined ? null : parseOffset(declared, 'Upload-Length');
    // Everything is checked before the session takes the media's write lock, so a bad request
    // neither stops the upload in progress nor changes what is declared.
    checkWritable(rec);
    checkOffset(rec, offset);
    if (length !== null) checkLength(rec, length, core.config.limits.maxMediaBytes);
    const limit = length ?? rec.uploadLength;
    const contentLength = c.req.header('content-length');
    if (limit !== null && contentLength !== undefined && /^\d{1,15}$/.test(contentLength)) {
      // tus 1.0.0: the server must not accept bytes past Upload-Length; with a known body size the
      // whole PATCH is refused before a byte of it is stored (as tusd does).
      if (offset + Number(contentLength) > limit) {
        throw new RelayError(
          'M_TOO_LARGE',
          `PATCH of ${contentLength} bytes at offset ${offset} goes past Upload-Length ${limit}`,
          { fields: { 'org.matrix.msc4016.reason': 'PAST_UPLOAD_LENGTH' } },
        );
      }
    }
    const session = UploadSession.open(core.store, core.config, rec, rec.owner, offset);
    if (length !== null && rec.uploadLength === null) core.store.setUploadLength(rec, length);
    const outcome = await pumpBody(
      c.req.raw.body,
      session,
      (chunk) => session.push(chunk),
      core.config.limits.uploadIdleTimeoutMs,
    );
    if (outcome instanceof RelayError) {
      session.close();
      // Bytes up to Upload-Length may have completed the media before the excess was refused.
      await session.completing?.catch(() => {});
      core.metrics.countError(outcome.code);
      return errorResponse(outcome, {
        ...TUS_HEADERS,
        'Upload-Offset': String(rec.byteLength),
        connection: 'close',
      });
    }
    try {
      if (outcome === 'done' && rec.uploadLength !== null && rec.byteLength === rec.uploadLength) {
        await session.finish();
      }
    } finally {
      session.close();
    }
    return c.body(null, 204, { ...TUS_HEADERS, 'Upload-Offset': String(rec.byteLength) });
  });

  app.delete(path, async (c) => {
    deleteMedia(core, await owned(c));
    return c.body(null, 204, TUS_HEADERS);
  });
}

/**
 * tus creation-defer-length: Upload-Length is set once (at creation or by a PATCH while deferred)
 * and never changed; it may not be under the bytes already stored, nor over the relay's maximum
 * (creation: 413, like Tus-Max-Size says).
 */
function checkLength(rec: MediaRecord, n: number, max: number): void {
  if (rec.uploadLength !== null && rec.uploadLength !== n) {
    throw new RelayError(
      'M_INVALID_PARAM',
      `Upload-Length ${n} differs from the ${rec.uploadLength} declared before: it cannot change`,
      { fields: { 'org.matrix.msc4016.reason': 'UPLOAD_LENGTH_CHANGED' } },
    );
  }
  if (n > max) {
    throw new RelayError('M_TOO_LARGE', `Upload-Length ${n} is over the limit of ${max}`, {
      fields: { 'org.matrix.msc4016.reason': 'UPLOAD_LENGTH_OVER_LIMIT' },
    });
  }
  if (n < MAGIC_SIZE + BLOCK_HEADER_SIZE) {
    throw new RelayError(
      'M_INVALID_PARAM',
      `Upload-Length ${n} cannot hold the magic and one block (${MAGIC_SIZE + BLOCK_HEADER_SIZE} bytes at least)`,
      { fields: { 'org.matrix.msc4016.reason': 'UPLOAD_LENGTH_TOO_SMALL' } },
    );
  }
  if (n < rec.byteLength) {
    throw new RelayError(
      'M_INVALID_PARAM',
      `Upload-Length ${n} is under the ${rec.byteLength} bytes already stored`,
      { fields: { 'org.matrix.msc4016.reason': 'UPLOAD_LENGTH_UNDER_OFFSET' } },
    );
  }
}

function parseOffset(value: string | undefined, name: string): number {
  if (value === undefined || !/^\d{1,15}$/.test(value)) {
    throw new RelayError(
      'M_INVALID_PARAM',
      `${name} must be a non-negative integer, got '${value ?? ''}'`,
    );
  }
  return Number(value);
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  P,
  createMedia,
  makeStream,
  streamingPut,
  uploadUrl,
  useTestRelay,
} from '../testing/relay-fixture.ts';
import { streamGeometryOf } from '@mxcast/protocol';
import { GEOMETRY_KEY, isUsableGeometry, readGeometry } from './geometry-check.ts';
import { createRelayApp } from '../app/relay-app.ts';
import { resolveConfig } from './relay-config.ts';
import { RelayCore } from './relay-core.ts';
import { RelayError } from './relay-error.ts';
import { issueToken } from './token-store.ts';

const VOICE = streamGeometryOf(
  { frameMs: 20, framesPerBlock: 12, bitrate: 32000, blockBytes: 1031 },
  1,
);

/** The RelayError readGeometry throws for `geometry`. */
function refusal(geometry: unknown): RelayError {
  try {
    readGeometry({ [GEOMETRY_KEY]: geometry }, 64 * 1024);
  } catch (err) {
    if (err instanceof RelayError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(geometry)}`);
}

describe('readGeometry', () => {
  it('accepts the presets and every Opus frame duration', () => {
    expect(readGeometry({ [GEOMETRY_KEY]: VOICE }, 64 * 1024)).toEqual(VOICE);
    for (const frame_ms of [2.5, 5, 10, 20, 40, 60]) {
      expect(readGeometry({ [GEOMETRY_KEY]: { ...VOICE, frame_ms } }, 65536)?.frame_ms).toBe(
        frame_ms,
      );
    }
    expect(readGeometry({}, 65536)).toBeNull();
    expect(readGeometry({ [GEOMETRY_KEY]: null }, 65536)).toBeNull();
  });

  it('keeps only the known fields, the optional ones only when given', () => {
    const g = readGeometry(
      { [GEOMETRY_KEY]: { frame_ms: 20, frames_per_block: 3, block_size: 1025, extra: 'x' } },
      65536,
    );
    expect(g).toEqual({ frame_ms: 20, frames_per_block: 3, block_size: 1025 });
  });

  it.each([
    ['frame_ms', 1e-300],
    ['frame_ms', 0],
    ['frame_ms', 21],
    ['frame_ms', '20'],
    ['frame_ms', undefined],
    ['frames_per_block', 1.5],
    ['frames_per_block', 0],
    ['frames_per_block', 256],
    ['block_size', 1031.5],
    ['block_size', 20],
    ['block_size', 16 + 65536 + 1],
    ['bitrate', 32000.5],
    ['bitrate', 100],
    ['bitrate', 1e9],
    ['sample_rate', 44100],
    ['channels', 0],
    ['channels', 2.5],
    ['channels', 256],
  ])('refuses %s = %s with M_INVALID_PARAM naming the field', (field, value) => {
    const err = refusal({ ...VOICE, [field]: value });
    expect(err.code).toBe('M_INVALID_PARAM');
    expect(err.message).toContain(`${GEOMETRY_KEY}.${field} must be`);
  });

  it('refuses a geometry that is not an object', () => {
    expect(refusal([20, 12]).message).toContain(`${GEOMETRY_KEY} must be an object`);
    expect(refusal(7).code).toBe('M_INVALID_PARAM');
  });

  it('tells a stored geometry the HLS view cannot use', () => {
    expect(isUsableGeometry(VOICE)).toBe(true);
    expect(isUsableGeometry({ ...VOICE, frame_ms: 1e-300 })).toBe(false);
    expect(isUsableGeometry({ ...VOICE, frames_per_block: Number.NaN })).toBe(false);
    expect(isUsableGeometry(null)).toBe(false);
  });
});

describe('POST /create with a geometry', () => {
  const t = useTestRelay();

  async function create(body: string) {
    const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: t.auth,
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('refuses frame_ms 1e-300 and non-integers, naming the field', async () => {
    const tiny = await create(JSON.stringify({ [GEOMETRY_KEY]: { ...VOICE, frame_ms: 1e-300 } }));
    expect(tiny.status).toBe(400);
    expect(tiny.body.errcode).toBe('M_INVALID_PARAM');
    expect(tiny.body.error).toContain('frame_ms');
    const half = await create(
      JSON.stringify({ [GEOMETRY_KEY]: { ...VOICE, frames_per_block: 2.5 } }),
    );
    expect(half.status).toBe(400);
    expect(half.body.error).toContain('frames_per_block');
  });

  it('answers M_BAD_JSON for a body that is not a JSON object, M_TOO_LARGE for a huge one', async () => {
    expect((await create('{')).body.errcode).toBe('M_BAD_JSON');
    expect((await create('[1]')).body.errcode).toBe('M_BAD_JSON');
    const huge = await create(JSON.stringify({ pad: 'x'.repeat(100_000) }));
    expect(huge.status).toBe(413);
    expect(huge.body.errcode).toBe('M_TOO_LARGE');
  });

  it('serves an HLS playlist with an integer target duration for the shortest frames', async () => {
    const m = await createMedia(t, { frame_ms: 2.5, frames_per_block: 1, block_size: 116 });
    const s = makeStream(2 + 800, 100);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes);
    put.end();
    expect((await put.response).status).toBe(200);
    const playlist = await (
      await fetch(`${t.url}${P}/hls/${m.server}/${m.id}/playlist.m3u8`)
    ).text();
    const target = /#EXT-X-TARGETDURATION:(.*)/.exec(playlist)?.[1];
    expect(target).toBe('2');
    // The URIs' random media id may spell NaN itself: only the relay's numbers must not.
    expect(playlist.replaceAll(m.id, '')).not.toContain('NaN');
    expect(playlist.match(/#EXTINF:2\.000,/g)).toHaveLength(1);
  });
});

describe('a geometry stored before create checked it', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-geometry-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('gets no HLS playlist (404), never one saying NaN', async () => {
    const core = new RelayCore(resolveConfig({ dataDir }));
    core.store.start();
    const app = createRelayApp(core);
    const auth = { Authorization: `Bearer ${issueToken(core.db, '@alice:localhost')}` };
    // The row an older relay wrote for `frame_ms: 1e-300`.
    const id = 'OldRowOldRowOldRowOldRow';
    const now = Date.now();
    core.db.insertMedia(
      id,
      '@alice:localhost',
      now,
      now + 60_000,
      JSON.stringify({ ...VOICE, frame_ms: 1e-300 }),
    );
    const put = await app.request(`/_matrix/media/v3/upload/localhost/${id}`, {
      method: 'PUT',
      headers: auth,
      body: makeStream(12).bytes,
    });
    expect(put.status).toBe(200);
    const res = await app.request(`${P}/hls/localhost/${id}/playlist.m3u8`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { errcode: string; error: string };
    expect(body.errcode).toBe('M_NOT_FOUND');
    expect(body.error).toContain('not usable');
    await core.close();
  });
});

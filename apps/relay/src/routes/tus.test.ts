/**
 * tus 1.0.0 with the stock tus-js-client: creation at the media's own tus URL, an upload aborted
 * mid-body and resumed by its URL, and the HEAD offset after a cut PUT. Plus the WebSocket upload.
 */
import { Readable } from 'node:stream';
import { Upload } from 'tus-js-client';
import { describe, expect, it } from 'vitest';
import {
  createMedia,
  downloadUrl,
  getIndex,
  makeStream,
  sleep,
  useTestRelay,
  tusUrl,
  until,
  wsUrl,
  type TestRelay,
} from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';

const t = useTestRelay();

function tusUpload(
  t: TestRelay,
  file: Buffer | Readable,
  options: {
    endpoint?: string;
    uploadUrl?: string;
    chunkSize?: number;
    uploadSize?: number;
    onProgress?: (sent: number, upload: Upload) => void;
  },
) {
  let upload!: Upload;
  const done = new Promise<string>((resolve, reject) => {
    upload = new Upload(file, {
      endpoint: options.endpoint ?? null,
      uploadUrl: options.uploadUrl ?? null,
      headers: t.auth,
      retryDelays: null,
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      ...(options.uploadSize ? { uploadSize: options.uploadSize } : {}),
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: false,
      onProgress: (sent) => options.onProgress?.(sent, upload),
      onSuccess: () => resolve(upload.url ?? ''),
      onError: reject,
    });
  });
  return { start: () => upload.start(), upload, done };
}

/** Sends one message on the upload WebSocket; expects the 1008 close and returns the error sent before it. */
async function refusedUpload(
  m: { server: string; id: string },
  data: Uint8Array,
): Promise<unknown> {
  const up = collect(wsUrl(t, 'upload/ws', m, `?access_token=${t.token}`));
  await up.opened;
  up.ws.send(data);
  const { code } = await up.closed;
  expect(code).toBe(1008);
  return up.messages.at(-1);
}

describe('tus with tus-js-client', () => {
  it('uploads in one go: creation at the media URL answers that URL', async () => {
    const m = await createMedia(t);
    const s = makeStream(50, 500);
    const u = tusUpload(t, s.bytes, { endpoint: tusUrl(t, m) });
    u.start();
    expect(await u.done).toBe(tusUrl(t, m));
    const idx = await getIndex(t, m);
    expect(idx.state).toBe('complete');
    expect(Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer()).equals(s.bytes)).toBe(
      true,
    );
  });

  it('resumes an upload aborted mid-body from the block boundary HEAD reports', async () => {
    const m = await createMedia(t);
    const s = makeStream(3000, 1000); // 3 MB
    let abortedAt = 0;
    // A source that trickles (64 KiB every 5 ms), so the abort lands mid-body.
    const trickle = Readable.from(
      (async function* () {
        for (let at = 0; at < s.bytes.length; at += 65536) {
          await sleep(5);
          yield s.bytes.subarray(at, at + 65536);
        }
      })(),
    );
    const first = tusUpload(t, trickle, {
      endpoint: tusUrl(t, m),
      chunkSize: s.bytes.length,
      uploadSize: s.bytes.length,
      onProgress: (sent, upload) => {
        if (!abortedAt && sent > 1_000_000) {
          abortedAt = sent;
          void upload.abort();
        }
      },
    });
    first.start();
    await until(() => abortedAt > 0, 10_000, 'abort');
    await sleep(200);
    const idx = await getIndex(t, m);
    expect(idx.state).toBe('live');
    expect(idx.byte_length).toBeGreaterThan(0);
    expect(idx.byte_length).toBeLessThan(s.bytes.length);
    expect(s.offsets).toContain(idx.byte_length); // a block boundary
    const head = await fetch(tusUrl(t, m), {
      method: 'HEAD',
      headers: { ...t.auth, 'Tus-Resumable': '1.0.0' },
    });
    expect(head.headers.get('upload-offset')).toBe(String(idx.byte_length));
    expect(head.headers.get('upload-length')).toBe(String(s.bytes.length));
    expect(head.headers.get('cache-control')).toBe('no-store');

    const resumed = tusUpload(t, s.bytes, { uploadUrl: tusUrl(t, m) });
    resumed.start();
    await resumed.done;
    const after = await getIndex(t, m);
    expect(after.state).toBe('complete');
    expect(Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer()).equals(s.bytes)).toBe(
      true,
    );
  });

  it('creates a new media by a POST to the tus root', async () => {
    const s = makeStream(10, 100);
    const u = tusUpload(t, s.bytes, {
      endpoint: `${t.url}/_matrix/media/unstable/org.matrix.msc4016/tus`,
    });
    u.start();
    const url = await u.done;
    const [server = '', id = ''] = url.split('/').slice(-2);
    expect(url).toBe(tusUrl(t, { server, id }));
    expect(
      Buffer.from(await (await fetch(downloadUrl(t, { server, id }))).arrayBuffer()).equals(
        s.bytes,
      ),
    ).toBe(true);
  });

  it('defers the length: a PATCH ending mid-block keeps whole blocks, Upload-Length on the last completes', async () => {
    const m = await createMedia(t);
    const s = makeStream(10, 100);
    const h = { ...t.auth, 'Tus-Resumable': '1.0.0' };
    const created = await fetch(tusUrl(t, m), {
      method: 'POST',
      headers: { ...h, 'Upload-Defer-Length': '1' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(new URL(tusUrl(t, m)).pathname);
    const patch = (offset: number, bytes: Uint8Array, extra: Record<string, string> = {}) =>
      fetch(tusUrl(t, m), {
        method: 'PATCH',
        headers: {
          ...h,
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': String(offset),
          ...extra,
        },
        body: new Uint8Array(bytes),
      });
    const cut = (s.offsets[4] as number) + 30;
    const first = await patch(0, s.bytes.subarray(0, cut));
    expect(first.status).toBe(204);
    expect(first.headers.get('upload-offset')).toBe(String(s.offsets[4]));
    const head = await fetch(tusUrl(t, m), { method: 'HEAD', headers: h });
    expect(head.headers.get('upload-defer-length')).toBe('1');
    const at = s.offsets[4] as number;
    const last = await patch(at, s.bytes.subarray(at), { 'Upload-Length': String(s.bytes.length) });
    expect(last.status).toBe(204);
    expect(last.headers.get('upload-offset')).toBe(String(s.bytes.length));
    expect((await getIndex(t, m)).state).toBe('complete');
  });

  it('terminates (DELETE) an upload', async () => {
    const m = await createMedia(t);
    const res = await fetch(tusUrl(t, m), {
      method: 'DELETE',
      headers: { ...t.auth, 'Tus-Resumable': '1.0.0' },
    });
    expect(res.status).toBe(204);
    expect((await fetch(downloadUrl(t, m))).status).toBe(404);
  });

  it('answers OPTIONS with the tus version and extensions', async () => {
    const res = await fetch(`${t.url}/_matrix/media/unstable/org.matrix.msc4016/tus`, {
      method: 'OPTIONS',
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-extension')).toContain('creation-defer-length');
  });
});

describe('tus Upload-Length (tus 1.0.0 core + creation-defer-length)', () => {
  const h = () => ({ ...t.auth, 'Tus-Resumable': '1.0.0' });
  const create = async (m: { server: string; id: string }, length?: number) => {
    const res = await fetch(tusUrl(t, m), {
      method: 'POST',
      headers: {
        ...h(),
        ...(length === undefined
          ? { 'Upload-Defer-Length': '1' }
          : { 'Upload-Length': String(length) }),
      },
    });
    expect(res.status).toBe(201);
  };
  /** A PATCH whose body is a stream: chunked, no Content-Length (the relay learns the size as it reads). */
  const chunkedPatch = (
    m: { server: string; id: string },
    offset: number,
    bytes: Uint8Array,
    extra: Record<string, string> = {},
  ) =>
    fetch(tusUrl(t, m), {
      method: 'PATCH',
      headers: {
        ...h(),
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': String(offset),
        ...extra,
      },
      body: new ReadableStream<Uint8Array>({
        start(c) {
          for (let at = 0; at < bytes.length; at += 700) c.enqueue(bytes.slice(at, at + 700));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
  const head = (m: { server: string; id: string }) =>
    fetch(tusUrl(t, m), { method: 'HEAD', headers: h() });
  const errcode = async (res: Response) =>
    (await res.json()) as { errcode: string; 'org.matrix.msc4016.reason'?: string };

  it('a PATCH past Upload-Length stores and fans out nothing past it, and completes at it', async () => {
    const m = await createMedia(t);
    const s = makeStream(30, 200);
    const length = s.offsets[10] as number; // magic + blocks 0..9
    await create(m, length);
    const listener = collect(wsUrl(t, 'ws', m, '?from=0'));
    await listener.opened;
    const res = await chunkedPatch(m, 0, s.bytes);
    expect(res.status).toBe(413);
    expect(await errcode(res)).toMatchObject({
      errcode: 'M_TOO_LARGE',
      'org.matrix.msc4016.reason': 'PAST_UPLOAD_LENGTH',
    });
    expect(res.headers.get('upload-offset')).toBe(String(length));
    const idx = await getIndex(t, m);
    expect(idx).toMatchObject({ state: 'complete', byte_length: length, block_count: 10 });
    const body = Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer());
    expect(body.equals(s.bytes.subarray(0, length))).toBe(true);
    await listener.closed;
    expect(listener.blocks.length).toBe(10);
    expect(listener.messages.at(-1)).toMatchObject({ type: 'end', state: 'complete' });
  });

  it('the block that would cross Upload-Length is refused; the blocks before it stay, live and resumable', async () => {
    const m = await createMedia(t);
    const s = makeStream(12, 200);
    const length = (s.offsets[6] as number) + 50; // inside block 6
    await create(m, length);
    const res = await chunkedPatch(m, 0, s.bytes);
    expect(res.status).toBe(413);
    expect((await errcode(res))['org.matrix.msc4016.reason']).toBe('PAST_UPLOAD_LENGTH');
    const idx = await getIndex(t, m);
    expect(idx).toMatchObject({ state: 'live', byte_length: s.offsets[6], block_count: 6 });
    const after = await head(m);
    expect(after.headers.get('upload-offset')).toBe(String(s.offsets[6]));
    expect(after.headers.get('upload-length')).toBe(String(length));
  });

  it('a PATCH whose Content-Length goes past Upload-Length is refused whole, before a byte is stored', async () => {
    const m = await createMedia(t);
    const s = makeStream(8, 100);
    await create(m, s.offsets[4] as number);
    const res = await fetch(tusUrl(t, m), {
      method: 'PATCH',
      headers: {
        ...h(),
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
      },
      body: new Uint8Array(s.bytes),
    });
    expect(res.status).toBe(413);
    expect((await errcode(res))['org.matrix.msc4016.reason']).toBe('PAST_UPLOAD_LENGTH');
    expect((await getIndex(t, m)).byte_length).toBe(0);
  });

  it('Upload-Length on a PATCH: under the offset 400, over the maximum 413, changed 400; nothing stored or declared', async () => {
    const m = await createMedia(t);
    const s = makeStream(10, 100);
    await create(m);
    const at = s.offsets[5] as number;
    expect((await chunkedPatch(m, 0, s.bytes.subarray(0, at))).status).toBe(204);

    const under = await chunkedPatch(m, at, s.bytes.subarray(at), {
      'Upload-Length': String(at - 1),
    });
    expect(under.status).toBe(400);
    expect(await errcode(under)).toMatchObject({
      errcode: 'M_INVALID_PARAM',
      'org.matrix.msc4016.reason': 'UPLOAD_LENGTH_UNDER_OFFSET',
    });
    const over = await chunkedPatch(m, at, s.bytes.subarray(at), {
      'Upload-Length': String(2 ** 40),
    });
    expect(over.status).toBe(413);
    expect(await errcode(over)).toMatchObject({
      errcode: 'M_TOO_LARGE',
      'org.matrix.msc4016.reason': 'UPLOAD_LENGTH_OVER_LIMIT',
    });
    let now = await head(m);
    expect(now.headers.get('upload-offset')).toBe(String(at));
    expect(now.headers.get('upload-defer-length')).toBe('1');
    expect(now.headers.get('upload-length')).toBeNull();
    expect((await getIndex(t, m)).byte_length).toBe(at);

    // Declared once (a PATCH ending inside the stream), then it may not change.
    const mid = s.offsets[7] as number;
    const declare = await chunkedPatch(m, at, s.bytes.subarray(at, mid), {
      'Upload-Length': String(s.bytes.length),
    });
    expect(declare.status).toBe(204);
    const changed = await chunkedPatch(m, mid, s.bytes.subarray(mid), {
      'Upload-Length': String(s.bytes.length + 100),
    });
    expect(changed.status).toBe(400);
    expect((await errcode(changed))['org.matrix.msc4016.reason']).toBe('UPLOAD_LENGTH_CHANGED');
    now = await head(m);
    expect(now.headers.get('upload-length')).toBe(String(s.bytes.length));
    const last = await chunkedPatch(m, mid, s.bytes.subarray(mid), {
      'Upload-Length': String(s.bytes.length),
    });
    expect(last.status).toBe(204);
    expect((await getIndex(t, m)).state).toBe('complete');
  });

  it('the declared length binds every transport: a WebSocket upload stops at it and the media completes', async () => {
    const m = await createMedia(t);
    const s = makeStream(20, 150);
    const length = s.offsets[12] as number;
    await create(m, length);
    expect(await refusedUpload(m, s.bytes)).toMatchObject({
      type: 'error',
      errcode: 'M_TOO_LARGE',
      'org.matrix.msc4016.reason': 'PAST_UPLOAD_LENGTH',
    });
    expect(await getIndex(t, m)).toMatchObject({ state: 'complete', byte_length: length });
  });

  it('creation: Upload-Length over the maximum is 413 and too small to hold a block is 400', async () => {
    const m = await createMedia(t);
    const over = await fetch(tusUrl(t, m), {
      method: 'POST',
      headers: { ...h(), 'Upload-Length': String(2 ** 40) },
    });
    expect(over.status).toBe(413);
    const tiny = await fetch(tusUrl(t, m), {
      method: 'POST',
      headers: { ...h(), 'Upload-Length': '3' },
    });
    expect(tiny.status).toBe(400);
    expect((await errcode(tiny))['org.matrix.msc4016.reason']).toBe('UPLOAD_LENGTH_TOO_SMALL');
    expect((await head(m)).headers.get('upload-defer-length')).toBe('1');
  });
});

describe('WebSocket upload', () => {
  it('stores binary messages split anywhere, acks at block boundaries, resumes at an offset and completes', async () => {
    const m = await createMedia(t);
    const s = makeStream(40, 120);
    const q = `?access_token=${t.token}`;
    const up = collect(wsUrl(t, 'upload/ws', m, q));
    await up.opened;
    const cut = (s.offsets[20] as number) + 7;
    for (let at = 0; at < cut; at += 333) up.ws.send(s.bytes.subarray(at, Math.min(at + 333, cut)));
    await until(() => up.messages.length === Math.ceil(cut / 333), 5000, 'acks');
    const lastAck = up.messages.at(-1) as { type: string; offset: number; blocks: number };
    expect(lastAck).toEqual({ type: 'ack', offset: s.offsets[20], blocks: 20 });
    up.ws.close();
    await up.closed;

    const wrong = collect(wsUrl(t, 'upload/ws', m, `${q}&offset=5`));
    await expect(wrong.opened).rejects.toThrow('409');
    const resume = collect(wsUrl(t, 'upload/ws', m, `${q}&offset=${lastAck.offset}`));
    await resume.opened;
    resume.ws.send(s.bytes.subarray(lastAck.offset));
    resume.ws.send(JSON.stringify({ type: 'finish' }));
    await resume.closed;
    expect(resume.messages.at(-1)).toMatchObject({ type: 'complete' });
    expect(Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer()).equals(s.bytes)).toBe(
      true,
    );
  });

  it('answers a bad block with the Matrix error and closes', async () => {
    const m = await createMedia(t);
    expect(await refusedUpload(m, Buffer.from('not an mxc stream at all'))).toMatchObject({
      type: 'error',
      errcode: 'M_BAD_BLOCK',
      'org.matrix.msc4016.reason': 'BAD_MAGIC',
    });
  });
});

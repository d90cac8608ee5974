import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinnedProcess } from '../fanout/pinned-process.ts';
import { timeDownload } from './download-timer.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const bytes = createHash('sha256').update('seed').digest().subarray(0, 16);
const body = Buffer.concat(
  Array.from({ length: 20_000 }, (_, i) => Buffer.from([...bytes, i & 0xff])),
);
let dir = '';
let server: PinnedProcess;
let url = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-raw-server-test-'));
  const file = path.join(dir, 'file.bin');
  await writeFile(file, body);
  server = new PinnedProcess(
    'raw file server',
    0,
    process.execPath,
    ['--import', 'tsx', path.join(here, 'raw-file-server.ts'), file],
    { cwd: path.join(here, '..', '..') },
  );
  url = (await server.waitForOutput(/http:\/\/127\.0\.0\.1:\d+/, 20_000))[0];
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('raw file server + timeDownload', () => {
  it('downloads the whole file, timing its first byte before its end, with its SHA-256', async () => {
    const t = await timeDownload(url, { hash: true });
    expect(t.status).toBe(200);
    expect(t.bytes).toBe(body.length);
    expect(t.sha256).toBe(createHash('sha256').update(body).digest('base64'));
    expect(t.firstByteMs).toBeGreaterThan(0);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.firstByteMs);
  });

  it('serves an open-ended Range from its start, and 416 past the end', async () => {
    const t = await timeDownload(url, { range: 'bytes=1000-', hash: true });
    expect(t.status).toBe(206);
    expect(t.bytes).toBe(body.length - 1000);
    expect(t.sha256).toBe(createHash('sha256').update(body.subarray(1000)).digest('base64'));
    const past = await timeDownload(url, { range: `bytes=${body.length}-` });
    expect(past.status).toBe(416);
  });

  it('stops after the first body byte when asked', async () => {
    const t = await timeDownload(url, { range: 'bytes=0-', firstByteOnly: true });
    expect(t.status).toBe(206);
    expect(t.bytes).toBeGreaterThan(0);
    expect(t.bytes).toBeLessThan(body.length);
    expect(t.totalMs).toBe(t.firstByteMs);
  });
});

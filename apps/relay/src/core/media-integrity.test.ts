import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMedia,
  downloadUrl,
  getIndex,
  indexUrl,
  makeStream,
  startTestRelay,
  streamingPut,
  until,
  uploadUrl,
  type TestRelay,
} from '../testing/relay-fixture.ts';

let dataDir: string;
let relay: TestRelay | null = null;
const logs: string[] = [];

afterEach(async () => {
  await relay?.close();
  relay = null;
  logs.length = 0;
  rmSync(dataDir, { recursive: true, force: true });
});

const start = async () =>
  (relay = await startTestRelay({ dataDir, log: (line) => logs.push(line) }));

/** The media row as stored (read beside the running relay: WAL lets a reader in). */
function rowOf(id: string): Record<string, unknown> {
  const db = new Database(join(dataDir, 'relay.db'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM media WHERE media_id = ?').get(id) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

async function completeMedia(t: TestRelay, blocks: number) {
  const m = await createMedia(t);
  const s = makeStream(blocks, 300);
  const res = await fetch(uploadUrl(t, m), { method: 'PUT', headers: t.auth, body: s.bytes });
  expect(res.status).toBe(200);
  return { m, s };
}

describe('reloading finished media', () => {
  it('stores the block runs at completion and rebuilds the index from them after a restart', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-integrity-'));
    const t = await start();
    const { m, s } = await completeMedia(t, 50);
    expect(JSON.parse(rowOf(m.id).block_runs as string)).toEqual([[316, 50]]);
    await t.close();
    await start();
    const res = await fetch(`${indexUrl(relay as TestRelay, m)}?from=0&count=50`);
    const body = (await res.json()) as { offsets: number[]; block_count: number };
    expect(body.block_count).toBe(50);
    expect(body.offsets).toEqual(s.offsets);
  });

  it('walks the headers of a media completed before runs were stored, then stores them', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-integrity-'));
    const t = await start();
    const { m, s } = await completeMedia(t, 40);
    await t.close();
    const db = new Database(join(dataDir, 'relay.db'));
    db.prepare('UPDATE media SET block_runs = NULL WHERE media_id = ?').run(m.id);
    db.close();
    await start();
    const res = await fetch(`${indexUrl(relay as TestRelay, m)}?from=0&count=40`);
    expect(((await res.json()) as { offsets: number[] }).offsets).toEqual(s.offsets);
    expect(JSON.parse(rowOf(m.id).block_runs as string)).toEqual([[316, 40]]);
    const got = Buffer.from(await (await fetch(downloadUrl(relay as TestRelay, m))).arrayBuffer());
    expect(got.equals(s.bytes)).toBe(true);
  });

  it('checks many media asked for at once after a restart, a few at a time, each once', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-integrity-'));
    const t = await start();
    const all = [];
    for (let i = 0; i < 6; i++) all.push(await completeMedia(t, 30 + i));
    await t.close();
    const t2 = await start();
    const answers = await Promise.all(all.flatMap(({ m }) => [getIndex(t2, m), getIndex(t2, m)]));
    expect(answers.map((a) => [a.state, a.block_count])).toEqual(
      all.flatMap((_, i) => [
        ['complete', 30 + i],
        ['complete', 30 + i],
      ]),
    );
    expect(logs).toEqual([]);
  });

  it('logs one line at start for media files without a row (not served until --repair)', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-integrity-'));
    const t = await start();
    const kept = await completeMedia(t, 5);
    const orphan = await completeMedia(t, 6);
    await t.close();
    const db = new Database(join(dataDir, 'relay.db'));
    db.prepare('DELETE FROM media WHERE media_id = ?').run(orphan.m.id);
    db.close();
    const t2 = await start();
    expect(logs).toEqual([
      `1 media file(s) in media/ have no row in relay.db (e.g. ${orphan.m.id}): not served; ` +
        '`mxcast relay --repair` rebuilds their rows, or delete the files',
    ]);
    expect((await fetch(indexUrl(t2, orphan.m))).status).toBe(404);
    expect((await getIndex(t2, kept.m)).state).toBe('complete');
  });

  it('a live media whose file lost every stored block is damaged, not pending', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-integrity-'));
    const t = await start();
    const m = await createMedia(t);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    void put.response.catch(() => undefined);
    put.push(makeStream(8, 300).bytes);
    // The stored length reaches the row after a group flush made the bytes durable.
    await until(() => Number(rowOf(m.id).byte_length) > 0, 5000, 'a flushed length');
    await t.close();
    truncateSync(join(dataDir, 'media', `${m.id}.mxc`), 0);
    const t2 = await start();
    const res = await fetch(indexUrl(t2, m));
    expect(res.status).toBe(500);
    expect(rowOf(m.id)).toMatchObject({
      state: 'live',
      damage: expect.stringMatching(/^file has no valid block/),
    });
    expect(logs).toEqual([
      expect.stringContaining(`media ${m.id} damaged: file has no valid block`),
    ]);
  });

  it('marks a truncated file damaged in its row without rewriting the stored length', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-integrity-'));
    const t = await start();
    const { m, s } = await completeMedia(t, 20);
    const before = rowOf(m.id);
    await t.close();
    truncateSync(join(dataDir, 'media', `${m.id}.mxc`), s.bytes.length - 1);
    const t2 = await start();
    const row = rowOf(m.id);
    expect(row.damage).toBe(
      `file is ${s.bytes.length - 1} bytes, shorter than the ${s.bytes.length} stored`,
    );
    for (const k of ['state', 'byte_length', 'block_count', 'sha256'])
      expect(row[k]).toEqual(before[k]);
    expect(logs.filter((l) => l.includes(m.id))).toEqual([
      `media ${m.id} damaged: ${row.damage as string}; answered 500 DAMAGED until repaired or deleted`,
    ]);
    const res = await fetch(indexUrl(t2, m));
    expect(res.status).toBe(500);
    // The sha256 of what was uploaded is not served for the damaged bytes either.
    expect(JSON.stringify(await res.json())).not.toContain(
      createHash('sha256').update(s.bytes).digest('base64').replace(/=+$/, ''),
    );
    expect((await getIndex(t2, m)).state).toBeUndefined();
  });
});

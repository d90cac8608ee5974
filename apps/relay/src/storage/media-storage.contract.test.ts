/**
 * The storage contract suite (media-storage.ts): one describe factory run over every store, the
 * way tus-node-server runs one suite over its stores, so the embedded store and the JetStream one
 * cannot drift. Real engines: SQLite + files in a temp dir, and a real nats-server with JetStream
 * on a free loopback port (two client connections play two relay nodes).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAGIC, encodeBlock, type FramedBlock } from '@mxcast/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMediaId } from '../core/media-id.ts';
import { MediaStore } from '../core/media-store.ts';
import { resolveConfig } from '../core/relay-config.ts';
import { RelayError } from '../core/relay-error.ts';
import { RelayMetrics } from '../core/relay-metrics.ts';
import { startNatsServer, type NatsServer } from '../testing/nats-server-fixture.ts';
import { EmbeddedMediaStorage } from './embedded-media-storage.ts';
import { JetStreamMediaStorage } from './jetstream-media-storage.ts';
import { RelayDatabase } from './relay-database.ts';
import {
  StorageError,
  type MediaRow,
  type MediaStorage,
  type StoredBlock,
} from './media-storage.ts';

const MAX_BLOCK = 64 * 1024;

interface Nodes {
  /** Two handles on one store: two relay nodes in a cluster; the same object when embedded. */
  a: MediaStorage;
  b: MediaStorage;
  /** CPU ms used so far by the engine's own process (nats-server), if it has one. */
  engineCpuMs?: () => number;
  close(): Promise<void>;
}

/** utime + stime of a process from /proc/PID/stat, in ms (clock ticks are 100 Hz on Linux). */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function row(owner = '@alice:localhost'): MediaRow {
  const now = Date.now();
  return {
    media_id: newMediaId(),
    owner,
    state: 'pending',
    created_at: now,
    unused_expires_at: now + 60_000,
    first_byte_at: null,
    completed_at: null,
    byte_length: 0,
    block_count: 0,
    byte_order: null,
    geometry: null,
    sha256: null,
    upload_length: null,
    damage: null,
    block_runs: null,
  };
}

type Block = { offset: number; bytes: Uint8Array };

/** Valid framed blocks (random ciphertext: the store never decrypts), with their offsets. */
function blocks(n: number, size = 200, firstSeq = 0): Block[] {
  const out: Block[] = [];
  let offset = MAGIC.length;
  for (let i = 0; i < n; i++) {
    const bytes = encodeBlock(firstSeq + i, randomBytes(size));
    out.push({ offset, bytes });
    offset += bytes.length;
  }
  return out;
}

async function rejection(p: Promise<unknown>): Promise<StorageError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function storageContract(name: string, open: () => Promise<Nodes>): void {
  describe(`storage contract: ${name}`, () => {
    let nodes: Nodes;
    beforeAll(async () => {
      nodes = await open();
    });
    afterAll(async () => {
      await nodes?.close();
    });

    it('stores a media row once and reads it back', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      expect(await nodes.b.getMedia(r.media_id)).toEqual(r);
      expect((await rejection(nodes.b.insertMedia({ ...r, owner: '@eve:x' }))).kind).toBe(
        'conflict',
      );
      expect((await nodes.a.getMedia(r.media_id))?.owner).toBe('@alice:localhost');
      expect(await nodes.a.getMedia(newMediaId())).toBeUndefined();
    });

    it('moves a state by compare-and-set: of two racing transitions exactly one wins', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const live = await nodes.a.updateMedia(r.media_id, 'pending', {
        state: 'live',
        first_byte_at: 5,
      });
      expect(live).toMatchObject({ state: 'live', first_byte_at: 5, owner: r.owner });
      expect(
        (await rejection(nodes.b.updateMedia(r.media_id, 'pending', { state: 'live' }))).kind,
      ).toBe('conflict');
      const results = await Promise.allSettled([
        nodes.a.updateMedia(r.media_id, 'live', { state: 'complete', sha256: 'x' }),
        nodes.b.updateMedia(r.media_id, 'live', { state: 'cancelled' }),
      ]);
      expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
      expect((loser.reason as StorageError).kind).toBe('conflict');
      const final = await nodes.b.getMedia(r.media_id);
      expect(['complete', 'cancelled']).toContain(final?.state);
      expect(final?.first_byte_at).toBe(5);
      expect((await rejection(nodes.a.updateMedia(newMediaId(), 'live', {}))).kind).toBe(
        'not_found',
      );
    });

    it('appends blocks in order and reads them back byte-identical on the other node', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const bs = blocks(20);
      for (const [i, b] of bs.entries())
        expect(await nodes.a.appendBlock(r.media_id, i, b.offset, b.bytes)).toBe('stored');
      expect(await nodes.b.blockOffsets(r.media_id)).toEqual(bs.map((b) => b.offset));
      for (const i of [0, 7, 19]) {
        const got = await nodes.b.readBlock(r.media_id, i);
        expect(got?.offset).toBe(bs[i]?.offset);
        expect(Buffer.from(got?.bytes ?? []).equals(bs[i]?.bytes ?? new Uint8Array())).toBe(true);
      }
      expect(await nodes.b.readBlock(r.media_id, 20)).toBeUndefined();
    });

    it('exactly once: a retry is a duplicate, other bytes, a gap or a wrong offset a conflict', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const bs = blocks(3);
      const [b0, b1, b2] = bs as [(typeof bs)[0], (typeof bs)[0], (typeof bs)[0]];
      await nodes.a.appendBlock(r.media_id, 0, b0.offset, b0.bytes);
      await nodes.a.appendBlock(r.media_id, 1, b1.offset, b1.bytes);
      // The retry comes through the other node (an uploader that failed over).
      expect(await nodes.b.appendBlock(r.media_id, 1, b1.offset, b1.bytes)).toBe('duplicate');
      const other = encodeBlock(1, randomBytes(200));
      const c1 = await rejection(nodes.b.appendBlock(r.media_id, 1, b1.offset, other));
      expect([c1.kind, c1.reason]).toEqual(['conflict', 'BLOCK_CONFLICT']);
      expect((await rejection(nodes.a.appendBlock(r.media_id, 3, b2.offset, b2.bytes))).kind).toBe(
        'conflict',
      );
      expect(
        (await rejection(nodes.a.appendBlock(r.media_id, 2, b2.offset + 1, b2.bytes))).kind,
      ).toBe('conflict');
      expect(await nodes.b.appendBlock(r.media_id, 2, b2.offset, b2.bytes)).toBe('stored');
      expect(await nodes.a.blockOffsets(r.media_id)).toEqual(bs.map((b) => b.offset));
      const got = await nodes.a.readBlock(r.media_id, 1);
      expect(Buffer.from(got?.bytes ?? []).equals(b1.bytes)).toBe(true);
    });

    it('a refused append writes nothing: a wrong first offset, then a retry with other bytes', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const [b0, b1] = blocks(2) as [
        { offset: number; bytes: Uint8Array },
        { offset: number; bytes: Uint8Array },
      ];
      // Not at 4 (right after the magic): refused before anything, not even the magic, is stored.
      for (const at of [0, MAGIC.length + 1]) {
        const c = await rejection(nodes.a.appendBlock(r.media_id, 0, at, b0.bytes));
        expect([c.kind, c.reason]).toEqual(['conflict', 'BLOCK_CONFLICT']);
      }
      expect(await nodes.b.blockOffsets(r.media_id)).toEqual([]);
      expect(await nodes.b.readBlock(r.media_id, 0)).toBeUndefined();
      expect(await nodes.b.appendBlock(r.media_id, 0, b0.offset, b0.bytes)).toBe('stored');
      // A retry of block 0 one byte shorter, or at another offset: not a duplicate.
      const short = b0.bytes.subarray(0, b0.bytes.length - 1);
      expect((await rejection(nodes.a.appendBlock(r.media_id, 0, b0.offset, short))).kind).toBe(
        'conflict',
      );
      expect((await rejection(nodes.a.appendBlock(r.media_id, 0, b1.offset, b0.bytes))).kind).toBe(
        'conflict',
      );
      expect(await nodes.a.appendBlock(r.media_id, 1, b1.offset, b1.bytes)).toBe('stored');
      expect(await nodes.b.blockOffsets(r.media_id)).toEqual([b0.offset, b1.offset]);
      for (const [i, b] of [b0, b1].entries()) {
        const got = await nodes.b.readBlock(r.media_id, i);
        expect(Buffer.from(got?.bytes ?? []).equals(b.bytes)).toBe(true);
      }
    });

    it('two uploaders racing for one block from two nodes: exactly one is stored', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const [b0] = blocks(1) as [{ offset: number; bytes: Uint8Array }];
      await nodes.a.appendBlock(r.media_id, 0, b0.offset, b0.bytes);
      for (let round = 1; round <= 5; round++) {
        const end = (await nodes.a.readBlock(r.media_id, round - 1)) as StoredBlock;
        const at = end.offset + end.bytes.length;
        const x = encodeBlock(round, randomBytes(100));
        const y = encodeBlock(round, randomBytes(100));
        const results = await Promise.allSettled([
          nodes.a.appendBlock(r.media_id, round, at, x),
          nodes.b.appendBlock(r.media_id, round, at, y),
        ]);
        expect(results.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
        const won = results[0].status === 'fulfilled' ? x : y;
        const lost = results.find((s) => s.status === 'rejected') as PromiseRejectedResult;
        expect((lost.reason as StorageError).kind).toBe('conflict');
        for (const n of [nodes.a, nodes.b]) {
          const got = await n.readBlock(r.media_id, round);
          expect(Buffer.from(got?.bytes ?? []).equals(won)).toBe(true);
        }
      }
      expect(await nodes.b.blockOffsets(r.media_id)).toHaveLength(6);
    });

    it('tails a media from any block: history, then live appends from the other node', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const bs = blocks(10);
      for (const [i, b] of bs.slice(0, 4).entries())
        await nodes.a.appendBlock(r.media_id, i, b.offset, b.bytes);
      const fromStart: StoredBlock[] = [];
      const fromTwo: StoredBlock[] = [];
      const t1 = await nodes.b.tail(r.media_id, 0, (b) => fromStart.push(b));
      const t2 = await nodes.b.tail(r.media_id, 2, (b) => fromTwo.push(b));
      for (const [i, b] of bs.slice(4).entries())
        await nodes.a.appendBlock(r.media_id, i + 4, b.offset, b.bytes);
      await until(() => fromStart.length === 10 && fromTwo.length === 8);
      expect(fromStart.map((b) => b.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(fromTwo.map((b) => b.index)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      for (const b of fromStart) {
        expect(b.offset).toBe(bs[b.index]?.offset);
        expect(Buffer.from(b.bytes).equals(bs[b.index]?.bytes ?? new Uint8Array())).toBe(true);
      }
      await t1.stop();
      await t2.stop();
      await t2.stop();
      const extra = encodeBlock(10, randomBytes(200));
      const last = bs[9] as { offset: number; bytes: Uint8Array };
      await nodes.a.appendBlock(r.media_id, 10, last.offset + last.bytes.length, extra);
      await new Promise((res) => setTimeout(res, 100));
      expect(fromStart).toHaveLength(10);
    });

    it('tails a media with no block yet', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const got: number[] = [];
      const t = await nodes.b.tail(r.media_id, 0, (b) => got.push(b.index));
      for (const [i, b] of blocks(3).entries())
        await nodes.a.appendBlock(r.media_id, i, b.offset, b.bytes);
      await until(() => got.length === 3);
      expect(got).toEqual([0, 1, 2]);
      await t.stop();
    });

    it('deletes a media: row and blocks gone on every node, again is harmless', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      const keep = row();
      await nodes.a.insertMedia(keep);
      for (const [i, b] of blocks(5).entries()) {
        await nodes.a.appendBlock(r.media_id, i, b.offset, b.bytes);
        await nodes.a.appendBlock(keep.media_id, i, b.offset, b.bytes);
      }
      await nodes.b.readBlock(r.media_id, 0);
      await nodes.b.deleteMedia(r.media_id);
      await nodes.a.deleteMedia(r.media_id);
      expect(await nodes.a.getMedia(r.media_id)).toBeUndefined();
      expect(await nodes.b.getMedia(r.media_id)).toBeUndefined();
      expect(await nodes.b.blockOffsets(keep.media_id)).toHaveLength(5);
    });

    it('keeps tokens: add, look up, list, revoke', async () => {
      const h1 = randomBytes(32).toString('hex');
      const h2 = randomBytes(32).toString('hex');
      await nodes.a.insertToken(h1, '@alice:localhost', 1000);
      await nodes.a.insertToken(h2, '@bob:localhost', 2000);
      expect(await nodes.b.tokenUser(h1)).toBe('@alice:localhost');
      const listed = (await nodes.b.listTokens()).filter((t) => [h1, h2].includes(t.token_hash));
      expect(listed).toEqual([
        { token_hash: h1, user_id: '@alice:localhost', created_at: 1000 },
        { token_hash: h2, user_id: '@bob:localhost', created_at: 2000 },
      ]);
      expect(await nodes.b.deleteToken(h1)).toBe(true);
      expect(await nodes.a.deleteToken(h1)).toBe(false);
      expect(await nodes.a.tokenUser(h1)).toBeUndefined();
      expect(await nodes.a.tokenUser(h2)).toBe('@bob:localhost');
    });

    it('counts the cost per block (printed as a reference for the cluster bench)', async () => {
      const r = row();
      await nodes.a.insertMedia(r);
      // A voice block: 40 ms of 24 kbit/s Opus in Ogg pages, about 160 bytes; use 1 KiB to be safe.
      const n = 500;
      const bs = blocks(n, 1024);
      const engine = nodes.engineCpuMs ?? (() => 0);
      const e0 = engine();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (const [i, b] of bs.entries())
        await nodes.a.appendBlock(r.media_id, i, b.offset, b.bytes);
      const write = process.cpuUsage(cpu0);
      const t1 = performance.now();
      const e1 = engine();
      const cpu1 = process.cpuUsage();
      for (let i = 0; i < n; i++) await nodes.b.readBlock(r.media_id, i);
      const read = process.cpuUsage(cpu1);
      const t2 = performance.now();
      const e2 = engine();
      const perBlock = (ms: number) => ((1000 * ms) / n).toFixed(0);
      const us = (c: NodeJS.CpuUsage) => ((c.user + c.system) / n).toFixed(0);
      console.log(
        `[${name}] per block (${n} × 1 KiB, one at a time): append ${us(write)} µs client CPU + ` +
          `${perBlock(e1 - e0)} µs engine CPU, ${perBlock(t1 - t0)} µs wall; read ${us(read)} µs ` +
          `client CPU + ${perBlock(e2 - e1)} µs engine CPU, ${perBlock(t2 - t1)} µs wall; ` +
          `loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
      );
      expect(await nodes.b.blockOffsets(r.media_id)).toEqual(bs.map((b) => b.offset));
    });
  });
}

storageContract('embedded (SQLite + files)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mxcast-storage-'));
  const store = EmbeddedMediaStorage.openDataDir(dir, MAX_BLOCK);
  return {
    a: store,
    b: store,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

let nats: NatsServer | undefined;
storageContract('cluster (NATS JetStream)', async () => {
  nats = await startNatsServer();
  const options = { servers: [nats.url], maxBlockBytes: MAX_BLOCK + 16 };
  const a = await JetStreamMediaStorage.open(options);
  const b = await JetStreamMediaStorage.open(options);
  return {
    a,
    b,
    engineCpuMs: () => procCpuMs(nats?.process.pid ?? 0),
    close: async () => {
      await a.close();
      await b.close();
      await nats?.stop();
    },
  };
});

/**
 * What only the embedded engine has: a file that a crash can leave ending in half a block, and
 * the relay's MediaStore writing through this engine's synchronous code on its own records.
 */
describe('embedded engine: crash cut, and the relay writing through it', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'mxcast-storage-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('reopened after a crash, a media ends at its last whole block and appends go on from there', async () => {
    const dir = tempDir();
    const r = row();
    const bs = blocks(4);
    let store = EmbeddedMediaStorage.openDataDir(dir, MAX_BLOCK);
    await store.insertMedia(r);
    const path = join(dir, 'media', `${r.media_id}.mxc`);
    // A refused first block writes nothing, not even the magic.
    await rejection(store.appendBlock(r.media_id, 0, MAGIC.length + 1, (bs[0] as Block).bytes));
    expect(statSync(path).size).toBe(0);
    for (const [i, b] of bs.slice(0, 3).entries())
      await store.appendBlock(r.media_id, i, b.offset, b.bytes);
    await store.close();
    const whole = statSync(path).size;
    const b3 = bs[3] as { offset: number; bytes: Uint8Array };
    expect(whole).toBe(b3.offset);
    // The crash: half of block 3 reached the disk.
    appendFileSync(path, b3.bytes.subarray(0, b3.bytes.length >> 1));
    store = EmbeddedMediaStorage.openDataDir(dir, MAX_BLOCK);
    expect(await store.blockOffsets(r.media_id)).toEqual(bs.slice(0, 3).map((b) => b.offset));
    expect(statSync(path).size).toBe(whole);
    expect(await store.readBlock(r.media_id, 3)).toBeUndefined();
    expect(await store.appendBlock(r.media_id, 3, b3.offset, b3.bytes)).toBe('stored');
    await store.close();
    const expected = Buffer.concat([MAGIC, ...bs.map((b) => b.bytes)]);
    expect(readFileSync(path).equals(expected)).toBe(true);
  });

  it('MediaStore stores each block once through the engine, refuses a wrong offset, recovers after a crash', async () => {
    const dir = tempDir();
    const config = resolveConfig({ dataDir: dir, log: () => {} });
    let db = new RelayDatabase(dir);
    let store = new MediaStore(config, db, new RelayMetrics());
    const { id } = store.create('@alice:localhost', null);
    const rec = store.get('localhost', id) as NonNullable<ReturnType<MediaStore['get']>>;
    const bs = blocks(5);
    const framed = bs.map((b, seq): FramedBlock => ({
      seq,
      offset: b.offset,
      length: b.bytes.length - 16,
      crc: 0,
      bytes: b.bytes,
      ciphertext: b.bytes.subarray(16),
      byteOrder: 'be',
    }));
    store.commitBlocks(rec, framed.slice(0, 2));
    const path = store.filePath(id);
    const twoBlocks = Buffer.concat([MAGIC, ...bs.slice(0, 2).map((b) => b.bytes)]);
    // One open file shared by the store and the engine: each block is in the file once.
    expect(readFileSync(path).equals(twoBlocks)).toBe(true);
    expect(db.getMedia(id)?.state).toBe('live');
    // The store's engine never opens a media of its own (a second MediaFile would append too).
    const b2 = bs[2] as Block;
    await expect(store.storage.appendBlock(id, 2, b2.offset, b2.bytes)).rejects.toThrow(/sync/);
    await expect(store.storage.deleteMedia(id)).rejects.toThrow(/sync/);
    expect(db.getMedia(id)?.state).toBe('live');
    // A block at the wrong offset (a relay bug, never a client's input): 500, nothing written.
    const wrong = { ...(framed[2] as FramedBlock), offset: (framed[2] as FramedBlock).offset + 1 };
    let refused: unknown = null;
    try {
      store.commitBlocks(rec, [wrong]);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RelayError);
    expect((refused as RelayError).status).toBe(500);
    expect(readFileSync(path).equals(twoBlocks)).toBe(true);
    expect(rec.blockCount).toBe(2);
    store.commitBlocks(rec, framed.slice(2, 4));
    await store.flushAll();
    expect(db.getMedia(id)).toMatchObject({ byte_length: rec.byteLength, block_count: 4 });
    await store.close();
    db.close();
    // The crash: half of block 4 reached the disk; the next start cuts it and goes on.
    const b4 = bs[4] as { offset: number; bytes: Uint8Array };
    appendFileSync(path, b4.bytes.subarray(0, 100));
    db = new RelayDatabase(dir);
    store = new MediaStore(config, db, new RelayMetrics());
    store.start();
    const again = store.get('localhost', id) as NonNullable<ReturnType<MediaStore['get']>>;
    expect([again.state, again.blockCount, again.byteLength]).toEqual(['live', 4, b4.offset]);
    expect(statSync(path).size).toBe(b4.offset);
    store.commitBlocks(again, framed.slice(4));
    await store.complete(again);
    expect(readFileSync(path).equals(Buffer.concat([MAGIC, ...bs.map((b) => b.bytes)]))).toBe(true);
    expect(db.getMedia(id)).toMatchObject({ state: 'complete', block_count: 5 });
    await store.close();
    db.close();
  });
});

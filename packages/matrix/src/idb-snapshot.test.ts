import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIdbSnapshot, saveIdbSnapshot } from './idb-snapshot.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** A database shaped like the Rust crypto's: out-of-line and in-line keys, an index, bytes. */
async function fill(factory: IDBFactory, name: string): Promise<void> {
  const open = factory.open(name, 7);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('core');
    const sessions = db.createObjectStore('sessions', { keyPath: ['room', 'id'] });
    sessions.createIndex('by_room', 'room', { unique: false });
    db.createObjectStore('counter', { autoIncrement: true });
  };
  const db = await request(open);
  const tx = db.transaction(['core', 'sessions', 'counter'], 'readwrite');
  tx.objectStore('core').put(new Uint8Array([1, 2, 3, 255]), 'account');
  tx.objectStore('core').put({ nested: new Map([['k', [1, 'two']]]) }, ['array', 'key']);
  tx.objectStore('sessions').put({ room: '!r', id: 's1', pickle: new Uint8Array(64).fill(7) });
  tx.objectStore('sessions').put({ room: '!q', id: 's2', pickle: 'text' });
  tx.objectStore('counter').put('first');
  await new Promise((r) => (tx.oncomplete = r));
  db.close();
}

async function dump(factory: IDBFactory, name: string): Promise<unknown> {
  const db = await request(factory.open(name));
  const out: Record<string, unknown> = { version: db.version };
  for (const s of [...db.objectStoreNames]) {
    const store = db.transaction(s, 'readonly').objectStore(s);
    out[s] = {
      keyPath: store.keyPath,
      indexes: [...store.indexNames],
      keys: await request(store.getAllKeys()),
      values: await request(store.getAll()),
    };
  }
  db.close();
  return out;
}

describe('IndexedDB snapshot', () => {
  it('restores schema, keys and structured values in a new factory', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idb-snap-'));
    dirs.push(dir);
    const file = path.join(dir, 'store.v8');
    const a = new IDBFactory();
    await fill(a, 'matrix-js-sdk::crypto');
    await fill(a, 'other-app');
    await saveIdbSnapshot(a, 'matrix-js-sdk', file);
    const b = new IDBFactory();
    expect(await loadIdbSnapshot(b, file)).toBe(5);
    expect(await dump(b, 'matrix-js-sdk::crypto')).toEqual(await dump(a, 'matrix-js-sdk::crypto'));
    // Only the prefix was saved.
    expect((await b.databases()).map((d) => d.name)).toEqual(['matrix-js-sdk::crypto']);
    // The index works after restore, and autoIncrement goes on after the restored key.
    const db = await request(b.open('matrix-js-sdk::crypto'));
    const byRoom = db.transaction('sessions').objectStore('sessions').index('by_room');
    expect(await request(byRoom.getAll('!q'))).toEqual([{ room: '!q', id: 's2', pickle: 'text' }]);
    const key = await request(
      db.transaction('counter', 'readwrite').objectStore('counter').put('second'),
    );
    expect(key).toBe(2);
    db.close();
  });

  it('loads nothing when there is no file yet', async () => {
    expect(await loadIdbSnapshot(new IDBFactory(), '/nonexistent/store.v8')).toBe(0);
  });
});

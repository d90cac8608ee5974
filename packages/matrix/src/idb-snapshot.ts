/**
 * Keeps the Rust crypto's IndexedDB store on disk. matrix-js-sdk's Rust crypto (matrix-sdk-crypto
 * in WebAssembly) stores the device's identity keys, Olm sessions and Megolm sessions in
 * IndexedDB, which Node lacks; `fake-indexeddb` gives one in memory. This file copies such an
 * in-memory factory's databases to one file and back: schema (stores, key paths, indexes) and
 * every record with its primary key, structured-cloned with v8.serialize (the same algorithm
 * IndexedDB uses, so Uint8Array, Map and nested objects survive). docs/matrix.md "Device and
 * crypto store" says why a kept device is worth this.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';

interface IndexSchema {
  name: string;
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
}

interface StoreSnapshot {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: IndexSchema[];
  /** [primary key, value] pairs in key order. */
  records: [IDBValidKey, unknown][];
}

interface DatabaseSnapshot {
  name: string;
  version: number;
  stores: StoreSnapshot[];
}

const SNAPSHOT_VERSION = 1;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function openExisting(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return request(factory.open(name));
}

async function readDatabase(factory: IDBFactory, name: string): Promise<DatabaseSnapshot> {
  const db = await openExisting(factory, name);
  try {
    const storeNames = [...db.objectStoreNames];
    const stores: StoreSnapshot[] = [];
    if (storeNames.length > 0) {
      // One readonly transaction over every store: a consistent copy even while the crypto
      // machine keeps writing (its writes queue behind this transaction).
      const tx = db.transaction(storeNames, 'readonly');
      for (const storeName of storeNames) {
        const store = tx.objectStore(storeName);
        const indexes = [...store.indexNames].map((indexName) => {
          const index = store.index(indexName);
          return {
            name: indexName,
            keyPath: index.keyPath,
            unique: index.unique,
            multiEntry: index.multiEntry,
          };
        });
        const [keys, values] = await Promise.all([
          request(store.getAllKeys()),
          request(store.getAll()),
        ]);
        stores.push({
          name: storeName,
          keyPath: store.keyPath,
          autoIncrement: store.autoIncrement,
          indexes,
          records: keys.map((k, i) => [k, values[i]]),
        });
      }
    }
    return { name, version: db.version, stores };
  } finally {
    db.close();
  }
}

/** Writes the factory's databases whose name starts with `prefix` to `file` (atomic rename). */
export async function saveIdbSnapshot(
  factory: IDBFactory,
  prefix: string,
  file: string,
): Promise<void> {
  const infos = await factory.databases();
  const names = infos.map((d) => d.name ?? '').filter((n) => n.startsWith(prefix));
  const databases = [];
  for (const name of names) databases.push(await readDatabase(factory, name));
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, serialize({ v: SNAPSHOT_VERSION, databases }), { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * Recreates the databases of `file` (if it exists) in `factory`, which must not hold them yet:
 * the schema in the upgrade transaction, then every record under its own primary key.
 * Returns how many records were restored.
 */
export async function loadIdbSnapshot(factory: IDBFactory, file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const snap = deserialize(readFileSync(file)) as { v: number; databases: DatabaseSnapshot[] };
  if (snap.v !== SNAPSHOT_VERSION) throw new Error(`${file}: unknown snapshot version ${snap.v}`);
  let count = 0;
  for (const dbSnap of snap.databases) {
    const req = factory.open(dbSnap.name, dbSnap.version);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const s of dbSnap.stores) {
        const store = db.createObjectStore(s.name, {
          keyPath: s.keyPath,
          autoIncrement: s.autoIncrement,
        });
        for (const ix of s.indexes) {
          store.createIndex(ix.name, ix.keyPath, { unique: ix.unique, multiEntry: ix.multiEntry });
        }
        for (const [key, value] of s.records) {
          // In-line keys (keyPath set) come from the value itself; passing one is an error.
          if (s.keyPath === null) store.put(value, key);
          else store.put(value);
          count++;
        }
      }
    };
    const db = await request(req);
    db.close();
  }
  return count;
}

/**
 * The web broadcaster's resume state in IndexedDB: what a reloaded (or crashed) tab needs to
 * continue the same broadcast — the fields of the resume record the CLI's `--state` file holds
 * (@mxcast/protocol's ResumeRecord; room-resume-backup.ts converts) plus the room, the broadcast
 * id and the announcement.
 *
 * The state holds the stream's key(s), so each record is sealed with AES-256-GCM under a
 * wrapping key made by WebCrypto as non-extractable and kept in its own object store (a
 * CryptoKey is structured-cloneable). The record's mxc is the GCM additional data, so a sealed
 * state cannot be passed off as another media's.
 *
 * What this protects against, precisely: script on the page (an injected script, an extension's
 * content script) cannot read the wrapping key's bytes — `exportKey` refuses — so it cannot carry
 * the key away to open states later, elsewhere; and a copy of the records alone (a devtools
 * export of the `states` store, a backup of one store) is useless without the key store. What it
 * does NOT protect against: script running in the origin can still call `decrypt` with the key
 * while it runs there; and a copy of the browser profile's IndexedDB files holds both stores —
 * Chromium serialises a non-extractable key's raw bytes into the IndexedDB record (no OS key
 * store is involved), so whoever copies the profile directory can open the state. It is at-rest
 * obfuscation against partial copies and an export barrier for scripts, not disk encryption.
 */
import type { StreamGeometry } from '@mxcast/client';
import type { EncryptedFile, Epoch } from '@mxcast/format';
import type { ResumePoint } from './resume-points.ts';

export const RESUME_DB = 'mxcast-broadcast-resume';
const DB_VERSION = 1;
const STATES = 'states';
const KEYS = 'keys';
const WRAP_KEY_ID = 'wrap';

/** Everything a resumed broadcast continues from, as last acknowledged by the relay. */
export interface WebResumeState {
  version: 1;
  relayUrl: string;
  mxc: string;
  /** Whose broadcast: only the same user and device is offered it (its crypto device sent the keys). */
  userId: string;
  deviceId: string;
  roomId: string;
  broadcastId: string;
  /** The encrypted announcement: a resume sends no second one. */
  announcementEventId: string;
  /** The first epoch's key and IV. */
  file: EncryptedFile;
  /** Every key epoch so far, the first being `file`'s (docs/format.md "Key epochs"). */
  epochs: Epoch[];
  /** The next block's seq and its byte offset, from the relay's last ack. */
  nextSeq: number;
  offset: number;
  /** Ogg logical stream (RFC 3533 §6): serial, next page sequence, granule of the last acked page (u64, decimal). */
  serial: number;
  pageSeq: number;
  granule: string;
  /**
   * Block boundaries emitted after the acked one (resume-points.ts): the relay may hold them
   * when the tab died; its stored offset picks the point to continue from.
   */
  ahead?: ResumePoint[];
  preset: string;
  geometry: StreamGeometry;
  title: string;
  startedTs: number;
  updatedTs: number;
}

/** What the room page shows before anything is decrypted: "Resume broadcast 'TITLE' (stopped 0:23 ago)". */
export interface ResumeSummary {
  mxc: string;
  roomId: string;
  title: string;
  userId: string;
  deviceId: string;
  updatedTs: number;
}

interface StoredRecord extends ResumeSummary {
  iv: Uint8Array<ArrayBuffer>;
  sealed: ArrayBuffer;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export class ResumeStore {
  readonly #db: IDBDatabase;
  readonly #key: CryptoKey;
  /** Saves run one after another, so an older state never lands after a newer one. */
  #chain: Promise<void> = Promise.resolve();

  private constructor(db: IDBDatabase, key: CryptoKey) {
    this.#db = db;
    this.#key = key;
  }

  static async open(factory: IDBFactory = indexedDB, name = RESUME_DB): Promise<ResumeStore> {
    const open = factory.open(name, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(STATES)) db.createObjectStore(STATES, { keyPath: 'mxc' });
      if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS);
    };
    const db = await request(open);
    const existing = (await request(
      db.transaction(KEYS, 'readonly').objectStore(KEYS).get(WRAP_KEY_ID),
    )) as CryptoKey | undefined;
    if (existing) return new ResumeStore(db, existing);
    const made = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
      'encrypt',
      'decrypt',
    ]);
    // `add` (not `put`): two tabs opening at once keep the first key; the loser re-reads it.
    const tx = db.transaction(KEYS, 'readwrite');
    tx.objectStore(KEYS).add(made, WRAP_KEY_ID);
    try {
      await done(tx);
      return new ResumeStore(db, made);
    } catch {
      const winner = (await request(
        db.transaction(KEYS, 'readonly').objectStore(KEYS).get(WRAP_KEY_ID),
      )) as CryptoKey;
      return new ResumeStore(db, winner);
    }
  }

  /** Seals and writes the state (replacing the media's previous one). */
  save(state: WebResumeState): Promise<void> {
    const run = this.#chain.then(async () => {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(state.mxc) },
        this.#key,
        new TextEncoder().encode(JSON.stringify(state)),
      );
      const record: StoredRecord = { ...summaryOf(state), iv, sealed };
      const tx = this.#db.transaction(STATES, 'readwrite');
      tx.objectStore(STATES).put(record);
      await done(tx);
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** The unfinished broadcasts of this user and device, newest first. */
  async list(owner: { userId: string; deviceId: string }): Promise<ResumeSummary[]> {
    const all = (await request(
      this.#db.transaction(STATES, 'readonly').objectStore(STATES).getAll(),
    )) as StoredRecord[];
    return all
      .filter((r) => r.userId === owner.userId && r.deviceId === owner.deviceId)
      .map(summaryOfRecord)
      .sort((a, b) => b.updatedTs - a.updatedTs);
  }

  /**
   * The media's state, or null when there is none or it does not open (sealed under another
   * wrapping key, altered): such a state cannot be resumed and is not offered.
   */
  async load(mxc: string): Promise<WebResumeState | null> {
    const record = (await request(
      this.#db.transaction(STATES, 'readonly').objectStore(STATES).get(mxc),
    )) as StoredRecord | undefined;
    if (!record) return null;
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: record.iv, additionalData: new TextEncoder().encode(mxc) },
        this.#key,
        record.sealed,
      );
      const state = JSON.parse(new TextDecoder().decode(plain)) as WebResumeState;
      return state.version === 1 && state.mxc === mxc ? state : null;
    } catch {
      return null;
    }
  }

  /** Forgets the media's state (Stop, Cancel): waits for pending saves so none lands after. */
  async clear(mxc: string): Promise<void> {
    await this.#chain;
    const tx = this.#db.transaction(STATES, 'readwrite');
    tx.objectStore(STATES).delete(mxc);
    await done(tx);
  }

  close(): void {
    this.#db.close();
  }
}

function summaryOf(s: WebResumeState): ResumeSummary {
  return {
    mxc: s.mxc,
    roomId: s.roomId,
    title: s.title,
    userId: s.userId,
    deviceId: s.deviceId,
    updatedTs: s.updatedTs,
  };
}

function summaryOfRecord(r: StoredRecord): ResumeSummary {
  const { mxc, roomId, title, userId, deviceId, updatedTs } = r;
  return { mxc, roomId, title, userId, deviceId, updatedTs };
}

/** "0:23", "12:05", "1:02:03": how long ago a broadcast stopped, for the resume offer. */
export function formatAgo(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

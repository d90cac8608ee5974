/**
 * A logged-in Matrix session with end-to-end encryption, its device kept in a state directory
 * across runs (docs/matrix.md "Device and crypto store"): `session.json` (user id, device id,
 * access token) and `crypto-store.v8` (the Rust crypto's IndexedDB, see idb-snapshot.ts).
 * A thin layer over matrix-js-sdk (Matrix client-server API; Rust crypto in WebAssembly).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { randomBytes } from 'node:crypto';
import {
  ClientEvent,
  createClient,
  Filter,
  SyncState,
  type ICreateClientOpts,
  type MatrixClient,
} from 'matrix-js-sdk';
import { loadIdbSnapshot, saveIdbSnapshot } from './idb-snapshot.ts';
import { countingFetch } from './request-counter.ts';
import {
  quietLogger,
  quietMatrixSdkLogs,
  quietRustCryptoLogs,
  withConsoleOnStderr,
} from './quiet-logger.ts';

/** matrix-js-sdk's Rust crypto database names start with this (its RUST_SDK_STORE_PREFIX). */
const CRYPTO_DB_PREFIX = 'matrix-js-sdk';
const SESSION_FILE = 'session.json';
const STORE_FILE = 'crypto-store.v8';

export type MatrixAuth = { accessToken: string } | { user: string; password: string };

export interface MatrixSessionOptions {
  /** Client-server API base URL (`https://matrix.example.org`). */
  homeserver: string;
  auth: MatrixAuth;
  /** Holds the device across runs; created 0700. Omit for a fresh device that is not kept. */
  stateDir?: string;
  /** Device display name given at password login. */
  deviceName?: string;
}

export interface MatrixSession {
  client: MatrixClient;
  userId: string;
  deviceId: string;
  /** True when the device (and its crypto store) came from the state directory. */
  restored: boolean;
  /**
   * Client-server API requests made so far, by method and path with ids left out
   * (`POST /v3/keys/upload`): what a fresh device costs against a kept one (docs/matrix.md).
   */
  requests: ReadonlyMap<string, number>;
  /** Writes the crypto store to the state directory now (also done after each sync). */
  save(): Promise<void>;
  /** Stops syncing, saves the store, frees the crypto machine. */
  stop(): Promise<void>;
}

interface SavedSession {
  homeserver: string;
  userId: string;
  deviceId: string;
  accessToken: string;
}

/**
 * The WebAssembly crypto opens its database on the global `indexedDB` during initRustCrypto and
 * keeps the handle; each session gets a factory of its own, set globally only while it opens
 * (serialised here), so two sessions in one process never share a store.
 */
let cryptoInit: Promise<unknown> = Promise.resolve();

function readSaved(stateDir: string): SavedSession | undefined {
  const file = path.join(stateDir, SESSION_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as SavedSession;
}

async function passwordLogin(
  fetchFn: typeof fetch,
  homeserver: string,
  user: string,
  password: string,
  deviceName: string,
): Promise<SavedSession> {
  const tmp = createClient({ baseUrl: homeserver, logger: quietLogger, fetchFn });
  const r = await tmp.loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password,
    initial_device_display_name: deviceName,
  });
  return { homeserver, userId: r.user_id, deviceId: r.device_id, accessToken: r.access_token };
}

async function whoami(
  fetchFn: typeof fetch,
  homeserver: string,
  accessToken: string,
): Promise<SavedSession> {
  const tmp = createClient({ baseUrl: homeserver, accessToken, logger: quietLogger, fetchFn });
  const r = await tmp.whoami();
  if (!r.device_id) throw new Error('the access token has no device (an appservice token?)');
  return { homeserver, userId: r.user_id, deviceId: r.device_id, accessToken };
}

/** Is the saved device still usable: same homeserver, the token still valid, same identity asked for? */
async function reuse(
  fetchFn: typeof fetch,
  saved: SavedSession,
  opts: MatrixSessionOptions,
): Promise<boolean> {
  if (saved.homeserver !== opts.homeserver) return false;
  if ('accessToken' in opts.auth && opts.auth.accessToken !== saved.accessToken) return false;
  try {
    const now = await whoami(fetchFn, opts.homeserver, saved.accessToken);
    if (now.deviceId !== saved.deviceId) return false;
    if ('user' in opts.auth && !sameUser(opts.auth.user, now.userId)) return false;
    return true;
  } catch {
    return false; // revoked token (M_UNKNOWN_TOKEN): log in again with a new device
  }
}

function sameUser(given: string, userId: string): boolean {
  return given === userId || `@${given}:` === userId.slice(0, given.length + 2);
}

/** Logs in (or reuses the kept device), starts the Rust crypto and waits for the first sync. */
export async function openMatrixSession(opts: MatrixSessionOptions): Promise<MatrixSession> {
  quietMatrixSdkLogs();
  const { requests, fetchFn: counting } = countingFetch();
  const { stateDir } = opts;
  if (stateDir) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700); // access token and private keys live here
  }
  const saved = stateDir ? readSaved(stateDir) : undefined;
  const restored = saved !== undefined && (await reuse(counting, saved, opts));
  let creds: SavedSession;
  if (restored && saved) creds = saved;
  else if ('accessToken' in opts.auth)
    creds = await whoami(counting, opts.homeserver, opts.auth.accessToken);
  else {
    const name = opts.deviceName ?? 'mxcast';
    creds = await passwordLogin(
      counting,
      opts.homeserver,
      opts.auth.user,
      opts.auth.password,
      name,
    );
  }
  const storeFile = stateDir ? path.join(stateDir, STORE_FILE) : undefined;
  if (stateDir && storeFile) {
    // A store of another device must never be loaded under this one's id.
    if (!restored) rmSync(storeFile, { force: true });
    writeFileSync(path.join(stateDir, SESSION_FILE), JSON.stringify(creds, null, 2) + '\n', {
      mode: 0o600,
    });
  }

  const factory = new IDBFactory();
  if (storeFile && restored) await loadIdbSnapshot(factory, storeFile);
  const clientOpts: ICreateClientOpts = {
    baseUrl: opts.homeserver,
    accessToken: creds.accessToken,
    userId: creds.userId,
    deviceId: creds.deviceId,
    logger: quietLogger,
    fetchFn: counting,
    // One object shared by the client's secret storage and the Rust crypto: resume-backup.ts
    // fills in getSecretStorageKey once the recovery passphrase has opened the key.
    cryptoCallbacks: {},
  };
  const client = createClient(clientOpts);
  const init = cryptoInit.then(async () => {
    const g = globalThis as { indexedDB?: IDBFactory; IDBKeyRange?: unknown };
    const before = g.indexedDB;
    g.indexedDB = factory;
    g.IDBKeyRange ??= IDBKeyRange;
    try {
      await withConsoleOnStderr(() =>
        client.initRustCrypto({ useIndexedDB: storeFile !== undefined }),
      );
    } finally {
      g.indexedDB = before;
    }
  });
  cryptoInit = init.catch(() => undefined);
  await init;
  quietMatrixSdkLogs(); // the crypto's modules, loaded just now, made loggers of their own
  quietRustCryptoLogs();

  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    if (!storeFile) return Promise.resolve();
    saving = saving
      .catch(() => undefined)
      .then(() => saveIdbSnapshot(factory, CRYPTO_DB_PREFIX, storeFile));
    return saving;
  };
  const onSync = (state: SyncState): void => {
    if (state === SyncState.Syncing || state === SyncState.Prepared) void save().catch(() => {});
  };
  client.on(ClientEvent.Sync, onSync);
  await waitForFirstSync(client);
  await save();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      client.off(ClientEvent.Sync, onSync);
      client.stopClient(); // also frees the crypto machine
      await save();
    })());
  return {
    client,
    userId: creds.userId,
    deviceId: creds.deviceId,
    restored,
    requests,
    save,
    stop,
  };
}

function waitForFirstSync(client: MatrixClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSync = (state: SyncState, _prev: SyncState | null, data?: { error?: Error }): void => {
      if (state === SyncState.Prepared) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) {
        client.off(ClientEvent.Sync, onSync);
        reject(data?.error ?? new Error('first sync failed'));
      }
    };
    client.on(ClientEvent.Sync, onSync);
    // Synapse answers a repeated /sync (same user, device, since and filter) from a response
    // cache for two minutes after the first: a device restarted within that time (kept in
    // the state dir) would start from a stale room state. A filter that differs per run
    // (excluding an account-data type nobody sends) makes every initial sync a new request.
    const filter = new Filter(client.getUserId());
    filter.setDefinition({
      account_data: { not_types: [`org.mxcast.sync_nonce.${randomBytes(8).toString('hex')}`] },
    });
    void client.startClient({ initialSyncLimit: 20, lazyLoadMembers: false, filter });
  });
}

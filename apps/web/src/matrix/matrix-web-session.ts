/**
 * The browser's Matrix session (docs/web.md "Matrix"): matrix-js-sdk with the Rust crypto in
 * WebAssembly, its store on the browser's real IndexedDB, so the device and its end-to-end keys
 * outlive a reload. What is kept where:
 * - `localStorage` `mxcast.matrix`: homeserver URL, user id, device id, access token (what a
 *   reload needs to reopen the same device);
 * - IndexedDB `matrix-js-sdk::*`: the Rust crypto store (identity keys, Megolm sessions), written
 *   by the sdk itself.
 * Log out revokes the token on the homeserver, deletes both, and the next login is a new device.
 * This module is loaded only by the Matrix pages (dynamic import in main.ts): the standalone
 * listen page never downloads matrix-js-sdk or the crypto wasm.
 */
import { ClientEvent, createClient, Filter, SyncState, type MatrixClient } from 'matrix-js-sdk';
import type { MatrixSession } from '@mxcast/matrix/browser';

const STORAGE_KEY = 'mxcast.matrix';

export interface SavedLogin {
  homeserver: string;
  userId: string;
  deviceId: string;
  accessToken: string;
}

export type WebAuth = { accessToken: string } | { user: string; password: string };

export interface WebMatrixSession extends MatrixSession {
  homeserver: string;
  accessToken: string;
  /** Revokes the token, stops the client, deletes the crypto store and the saved login. */
  logout(): Promise<void>;
}

export function savedLogin(): SavedLogin | null {
  const raw = localStorage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Partial<SavedLogin>;
    if (s.homeserver && s.userId && s.deviceId && s.accessToken) return s as SavedLogin;
  } catch {
    // unreadable: treated as logged out
  }
  localStorage.removeItem(STORAGE_KEY);
  return null;
}

/** Logs in (a new device), or checks an access token with whoami; saves the result. */
export async function login(homeserver: string, auth: WebAuth): Promise<SavedLogin> {
  const base = homeserver.replace(/\/+$/, '');
  let saved: SavedLogin;
  if ('accessToken' in auth) {
    const tmp = createClient({ baseUrl: base, accessToken: auth.accessToken });
    const r = await tmp.whoami();
    if (!r.device_id) throw new Error('this access token has no device (an appservice token?)');
    saved = {
      homeserver: base,
      userId: r.user_id,
      deviceId: r.device_id,
      accessToken: auth.accessToken,
    };
  } else {
    const tmp = createClient({ baseUrl: base });
    const r = await tmp.loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: auth.user },
      password: auth.password,
      initial_device_display_name: 'mxcast web',
    });
    saved = {
      homeserver: base,
      userId: r.user_id,
      deviceId: r.device_id,
      accessToken: r.access_token,
    };
  }
  // A crypto store left by another device must never be opened under this one's id.
  await createClient({ baseUrl: base }).clearStores();
  localStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
  return saved;
}

/** Opens the saved device: Rust crypto on IndexedDB, first sync done. */
export async function openSession(saved: SavedLogin): Promise<WebMatrixSession> {
  const client = createClient({
    baseUrl: saved.homeserver,
    accessToken: saved.accessToken,
    userId: saved.userId,
    deviceId: saved.deviceId,
  });
  await client.initRustCrypto({ useIndexedDB: true });
  await firstSync(client);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.stopClient();
  };
  return {
    client,
    userId: saved.userId,
    deviceId: saved.deviceId,
    homeserver: saved.homeserver,
    accessToken: saved.accessToken,
    restored: true,
    requests: new Map(),
    save: () => Promise.resolve(), // the sdk writes IndexedDB itself
    stop,
    async logout() {
      try {
        await client.logout(true); // also stops the client
      } finally {
        stopped = true;
        localStorage.removeItem(STORAGE_KEY);
        await client.clearStores();
      }
    },
  };
}

function firstSync(client: MatrixClient): Promise<void> {
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
    // As in @mxcast/matrix's Node session: Synapse answers a repeated initial /sync from a
    // two-minute cache, so a reload would start from stale room state; a per-load filter (an
    // account-data type nobody sends) makes each initial sync a new request.
    const nonce = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
    const filter = new Filter(client.getUserId());
    filter.setDefinition({ account_data: { not_types: [`org.mxcast.sync_nonce.${nonce}`] } });
    void client.startClient({ initialSyncLimit: 20, lazyLoadMembers: false, filter });
  });
}

/**
 * The broadcaster's resume state on the homeserver (docs/matrix.md "Resume from any device"):
 * one secret per broadcast in the user's account data (`org.mxcast.capture_state.<broadcast
 * id>`), encrypted `m.secret_storage.v1.aes-hmac-sha2` under the user's default secret storage
 * key — matrix-js-sdk's own secret storage does the AES-CTR + HMAC-SHA-256 (Matrix spec
 * "Secret storage"), nothing is hand-written here. The key comes from the recovery passphrase
 * (`m.pbkdf2`); an account without secret storage gets it here (bootstrapSecretStorage), with a
 * server-side key backup whose key is itself kept in secret storage, so the Megolm sessions that
 * carried the announcement and the epoch keys can be restored on any of the user's devices.
 */
import { deriveRecoveryKeyFromPassphrase } from 'matrix-js-sdk/lib/crypto-api/index.js';
import type {
  SecretStorageCallbacks,
  SecretStorageKeyDescriptionAesV1,
} from 'matrix-js-sdk/lib/secret-storage.js';
import { resumeRecordProblem, type ResumeRecord } from '@mxcast/protocol';
import {
  BROADCAST_STATE_TYPE,
  parseBroadcastState,
  type BroadcastAnnouncement,
  type BroadcastStateContent,
} from './broadcast-events.ts';
import type { Broadcast } from './broadcast-sender.ts';
import type { MatrixSession } from './matrix-session.ts';

/** Account data type prefix of a broadcast's resume secret (the broadcast id follows). */
export const CAPTURE_STATE_PREFIX = 'org.mxcast.capture_state.';

export class RecoveryError extends Error {
  constructor(
    readonly code: 'WRONG_PASSPHRASE' | 'NO_PASSPHRASE_KEY' | 'NO_SECRET_STORAGE' | 'BAD_SECRET',
    message: string,
  ) {
    super(message);
    this.name = 'RecoveryError';
  }
}

/** What the secret holds: the capture's resume state plus where the broadcast lives. */
export interface StoredCapture {
  roomId: string;
  broadcastId: string;
  announcementEventId: string;
  startedTs: number;
  /**
   * The resume record both broadcasters write (the CLI's capture state and the web page's): one
   * format, @mxcast/protocol's, so either resumes what the other left.
   */
  resume: ResumeRecord;
}

export interface ResumeBackup {
  /** The default secret storage key's id. */
  readonly keyId: string;
  /** True when this run created the account's secret storage (and its key backup). */
  readonly bootstrapped: boolean;
  store(c: StoredCapture): Promise<void>;
  /** The broadcast's stored capture, or null when there is none (or it was cleared). */
  load(broadcastId: string): Promise<StoredCapture | null>;
  /** Empties the secret (a finished or cancelled broadcast has nothing to resume). */
  clear(broadcastId: string): Promise<void>;
  /** The raw account data of the secret, as the homeserver holds it (ciphertext). */
  raw(broadcastId: string): Promise<unknown>;
}

export interface OpenResumeBackupOptions {
  /** Create secret storage (and a key backup) when the account has none (default true). */
  bootstrap?: boolean;
  /** Enable (or create) the server-side key backup of Megolm sessions (default true). */
  keyBackup?: boolean;
}

function eventType(broadcastId: string): string {
  return `${CAPTURE_STATE_PREFIX}${broadcastId}`;
}

/**
 * Opens the user's secret storage with the recovery passphrase. A wrong passphrase is checked
 * against the key's MAC (`checkKey`) before anything is read or written: a process that cannot
 * read the state never overwrites it.
 */
export async function openResumeBackup(
  session: MatrixSession,
  passphrase: string,
  opts: OpenResumeBackupOptions = {},
): Promise<ResumeBackup> {
  const { client } = session;
  const crypto = client.getCrypto();
  if (!crypto) throw new Error('this session has no end-to-end crypto');
  const ss = client.secretStorage;
  let key: Uint8Array;
  let keyId: string;
  let bootstrapped = false;
  const existing = await ss.getKey();
  if (existing) {
    const [id, info] = existing as [string, SecretStorageKeyDescriptionAesV1];
    const pp = info.passphrase;
    if (!pp || pp.algorithm !== 'm.pbkdf2') {
      throw new RecoveryError(
        'NO_PASSPHRASE_KEY',
        "the account's secret storage key was not made from a passphrase (a recovery key only)",
      );
    }
    key = await deriveRecoveryKeyFromPassphrase(passphrase, pp.salt, pp.iterations, pp.bits);
    if (!(await ss.checkKey(key, info))) {
      throw new RecoveryError(
        'WRONG_PASSPHRASE',
        "wrong recovery passphrase: it does not open the account's secret storage key",
      );
    }
    keyId = id;
  } else {
    if (opts.bootstrap === false) {
      throw new RecoveryError(
        'NO_SECRET_STORAGE',
        'the account has no secret storage: nothing was ever backed up to resume from',
      );
    }
    const generated = await crypto.createRecoveryKeyFromPassphrase(passphrase);
    key = generated.privateKey;
    keyId = '';
    setKeyCallback(
      session,
      () => key,
      () => keyId,
    );
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => generated,
      setupNewSecretStorage: true,
      setupNewKeyBackup: opts.keyBackup !== false,
    });
    keyId = (await ss.getDefaultKeyId()) ?? '';
    if (!keyId) throw new Error('secret storage was set up but has no default key');
    bootstrapped = true;
  }
  setKeyCallback(
    session,
    () => key,
    () => keyId,
  );
  if (opts.keyBackup !== false && !bootstrapped) await enableKeyBackup(session);

  return {
    keyId,
    bootstrapped,
    async store(c) {
      await ss.store(eventType(c.broadcastId) as never, JSON.stringify(c), [keyId]);
    },
    async load(broadcastId) {
      const text = await ss.get(eventType(broadcastId) as never).catch((err: Error) => {
        // An emptied secret ({}) is "not encrypted": nothing to resume.
        if (/not encrypted|no encrypted/i.test(err.message)) return undefined;
        throw err;
      });
      if (text === undefined) return null;
      let c: StoredCapture;
      try {
        c = JSON.parse(text) as StoredCapture;
      } catch {
        throw new RecoveryError('BAD_SECRET', `the stored state of ${broadcastId} is not JSON`);
      }
      if (c.broadcastId !== broadcastId || typeof c.resume !== 'object' || !c.resume) {
        throw new RecoveryError('BAD_SECRET', `the stored state of ${broadcastId} is malformed`);
      }
      const problem = resumeRecordProblem(c.resume);
      if (problem) {
        throw new RecoveryError(
          'BAD_SECRET',
          `the stored state of ${broadcastId} is malformed: resume ${problem}`,
        );
      }
      return c;
    },
    async clear(broadcastId) {
      await ss.store(eventType(broadcastId) as never, null);
    },
    raw(broadcastId) {
      return client.getAccountDataFromServer(eventType(broadcastId) as never);
    },
  };
}

/**
 * The client's secret storage (and the Rust crypto's use of it for the backup key) asks the
 * application for the key through cryptoCallbacks: matrix-session.ts hands createClient one
 * object, filled in here. A client made without `cryptoCallbacks` (the web app's) gives its
 * secret storage an object of its own (matrix-js-sdk 37.5's ServerSideSecretStorageImpl keeps it
 * as `callbacks`), so the callback goes there too.
 */
function setKeyCallback(session: MatrixSession, key: () => Uint8Array, keyId: () => string): void {
  const callback: SecretStorageCallbacks['getSecretStorageKey'] = async ({ keys }) => {
    const id = keyId();
    if (id && keys[id]) return [id, key()];
    const only = Object.keys(keys);
    // During bootstrap the new key's id is not known yet: it is the only one asked for.
    if (!id && only.length === 1) return [only[0] as string, key()];
    return null;
  };
  session.client.cryptoCallbacks.getSecretStorageKey = callback;
  const own = (session.client.secretStorage as { callbacks?: SecretStorageCallbacks }).callbacks;
  if (own && own !== session.client.cryptoCallbacks) own.getSecretStorageKey = callback;
}

/**
 * Turns on the server-side key backup: the existing one (its key read from secret storage), or a
 * new one when the account has none. Every Megolm session of this device (the announcement's,
 * each epoch event's) then goes to the backup.
 */
async function enableKeyBackup(session: MatrixSession): Promise<void> {
  const crypto = session.client.getCrypto();
  if (!crypto) return;
  const info = await crypto.getKeyBackupInfo();
  if (!info) {
    await crypto.resetKeyBackup();
    return;
  }
  await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
  await crypto.checkKeyBackupAndEnable();
}

/**
 * Restores the Megolm sessions of the user's key backup onto this device (a new device of the
 * broadcaster reading finished broadcasts). Needs openResumeBackup first (the backup key comes
 * from secret storage).
 */
export async function restoreKeyBackup(
  session: MatrixSession,
): Promise<{ total: number; imported: number }> {
  const crypto = session.client.getCrypto();
  if (!crypto) throw new Error('this session has no end-to-end crypto');
  await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
  await crypto.checkKeyBackupAndEnable();
  const r = await crypto.restoreKeyBackup();
  return { total: r.total, imported: r.imported };
}

/** An interrupted broadcast of this user found in the room, with its stored state. */
export interface ResumableBroadcast {
  broadcast: Broadcast;
  stored: StoredCapture;
}

/**
 * The room's newest broadcast of this user that is not stopped (the state event: started,
 * paused or resumed) and has a stored state; null when there is none. The Broadcast is rebuilt
 * from the stored state, not from the announcement: a new device cannot decrypt that.
 */
export async function findResumable(
  session: MatrixSession,
  roomId: string,
  backup: ResumeBackup,
): Promise<ResumableBroadcast | null> {
  const room = session.client.getRoom(roomId);
  if (!room) throw new Error(`not in room ${roomId}`);
  const candidates = room.currentState
    .getStateEvents(BROADCAST_STATE_TYPE)
    .filter((ev) => ev.getSender() === session.userId)
    .map((ev) => ({ id: ev.getStateKey() ?? '', st: parseBroadcastState(ev.getContent()) }))
    .filter(
      (c): c is { id: string; st: BroadcastStateContent } => !!c.st && c.st.state !== 'stopped',
    )
    .sort((a, b) => b.st.started_ts - a.st.started_ts);
  for (const { id, st } of candidates) {
    const stored = await backup.load(id);
    if (!stored || stored.roomId !== roomId) continue;
    const r = stored.resume;
    const announcement: BroadcastAnnouncement = {
      broadcastId: id,
      title: r.title,
      file: { ...r.file, url: r.mxc },
      geometry: r.geometry,
      startedTs: stored.startedTs,
    };
    return {
      stored,
      broadcast: {
        roomId,
        broadcastId: id,
        announcementEventId: st.announcement_event_id,
        announcement,
        state: st,
      },
    };
  }
  return null;
}

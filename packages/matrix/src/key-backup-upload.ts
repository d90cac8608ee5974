/**
 * The broadcaster's Megolm sessions into the server-side key backup at the moments that matter
 * (docs/matrix.md "Resume from any device", key backup): **backed up before announced**. The
 * announcement and every epoch event carry keys a device restoring the backup must read, so the
 * Megolm session such an event goes out in is made first (pre-shared with the room's devices),
 * uploaded, and only then is the event sent: a `kill -9` at any moment cannot leave an event in
 * the room whose session the backup lacks. Before exiting, a capture uploads what is left.
 *
 * matrix-js-sdk's own loop waits a random 0-10 s before each upload (to spread clients out),
 * too late for both, so this reaches into the pinned sdk's (37.5.0) Rust crypto: the backup
 * manager's OlmMachine and request processor, and a room encryptor's prepareForEncryption.
 * Another sdk version may lack them: without the encryptor's, nothing is pre-shared and the
 * upload runs right after the send; without the backup manager's, these functions upload nothing
 * and only the sdk's own loop does, in its own time.
 */
import type { MatrixSession } from './matrix-session.ts';

/** matrix-js-sdk 37.5's RustBackupManager, as far as this file uses it (not public API). */
interface BackupManagerInternals {
  activeBackupVersion?: string | null;
  olmMachine?: { backupRoomKeys(): Promise<unknown> };
  outgoingRequestProcessor?: { makeOutgoingRequest(request: unknown): Promise<unknown> };
}

/** matrix-js-sdk 37.5's RustCrypto, as far as this file uses it (not public API). */
interface CryptoInternals {
  backupManager?: BackupManagerInternals;
  roomEncryptors?: Record<string, RoomEncryptorInternals | undefined>;
  globalBlacklistUnverifiedDevices?: boolean;
  deviceIsolationMode?: unknown;
}

/** matrix-js-sdk 37.5's RoomEncryptor: prepareForEncryption shares the session, sends nothing. */
interface RoomEncryptorInternals {
  prepareForEncryption?(globalBlacklist: boolean, isolationMode: unknown): Promise<void>;
}

function internals(session: MatrixSession): CryptoInternals | undefined {
  return session.client.getCrypto() as CryptoInternals | undefined;
}

/** The backup manager when key backup is on and the sdk is the one this file knows. */
function activeBackup(session: MatrixSession): Required<BackupManagerInternals> | null {
  const bm = internals(session)?.backupManager;
  if (!bm?.activeBackupVersion || !bm.olmMachine || !bm.outgoingRequestProcessor) return null;
  return bm as Required<BackupManagerInternals>;
}

/**
 * Uploads the Megolm sessions not yet in the key backup, now, until none is left (the Rust
 * OlmMachine hands out one batch at a time and marks it once the server took it). Without key
 * backup it does nothing. Rejects with the server's error, or past `timeoutMs` (what is left
 * stays queued: the next upload, or the sdk's own loop if the process lives on, takes it).
 */
export async function flushKeyBackup(session: MatrixSession, timeoutMs = 15_000): Promise<void> {
  const bm = activeBackup(session);
  if (!bm) return;
  const upload = async (): Promise<void> => {
    // Running beside the sdk's own loop is safe: the OlmMachine returns the batch still in
    // flight, if any, to both, and a second upload of it is idempotent on the server.
    for (let batch = await bm.olmMachine.backupRoomKeys(); batch;) {
      await bm.outgoingRequestProcessor.makeOutgoingRequest(batch);
      batch = await bm.olmMachine.backupRoomKeys();
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`upload not finished in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([upload(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes the room's outbound Megolm session now (shared with the devices of the room's members,
 * as the next encryption would), so that it can be backed up before an event uses it. False
 * when the sdk offers no way to wait for that (the session is then made by the send itself).
 */
async function prepareRoomKey(session: MatrixSession, roomId: string): Promise<boolean> {
  const crypto = internals(session);
  const encryptor = crypto?.roomEncryptors?.[roomId];
  if (!crypto || !encryptor?.prepareForEncryption || crypto.deviceIsolationMode === undefined) {
    return false;
  }
  // What the public CryptoApi.prepareToEncrypt does, but awaited (that one drops the promise,
  // so a failure would be an unhandled rejection); a failure here is the send's failure too.
  await encryptor.prepareForEncryption(
    crypto.globalBlacklistUnverifiedDevices ?? false,
    crypto.deviceIsolationMode,
  );
  return true;
}

/**
 * Sends a key-bearing event (the announcement, an epoch event) with its Megolm session in the
 * key backup first. A backup that fails does not hold the event back (members need the key
 * now): the error is returned beside the result, the session stays queued in the OlmMachine and
 * the next upload takes it. Without key backup this is just `send()`.
 */
export async function sendBackedUp<T>(
  session: MatrixSession,
  roomId: string,
  send: () => Promise<T>,
  timeoutMs = 5_000,
): Promise<{ result: T; backupError: Error | null }> {
  if (!activeBackup(session)) return { result: await send(), backupError: null };
  let backupError: Error | null = null;
  const upload = () =>
    flushKeyBackup(session, timeoutMs).catch((e: unknown) => {
      backupError = e instanceof Error ? e : new Error(String(e));
    });
  const prepared = await prepareRoomKey(session, roomId);
  if (prepared) await upload();
  const result = await send();
  if (!prepared) await upload();
  return { result, backupError };
}

/** The error a caller reports when `what`'s session missed the backup before it was sent. */
export function keyBackupError(what: string, cause: Error): Error {
  return new Error(
    `key backup: ${what}'s Megolm session not uploaded before it was sent (${cause.message}); ` +
      'it stays queued for the next upload',
    { cause },
  );
}

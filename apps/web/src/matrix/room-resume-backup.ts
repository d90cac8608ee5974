/**
 * The room broadcaster's resume state in the user's secret storage (docs/matrix.md "Resume from
 * any device", docs/web.md "Reload and resume"): with the recovery passphrase the page mirrors
 * what it keeps in IndexedDB into the account-data secret `org.mxcast.capture_state.<broadcast
 * id>` that `mxcast capture --recovery-passphrase-file` writes — the same plaintext
 * (@mxcast/matrix's StoredCapture around @mxcast/protocol's ResumeRecord), encrypted by
 * matrix-js-sdk's secret storage (`m.secret_storage.v1.aes-hmac-sha2`) — so another browser, or
 * a new device after the profile is lost, continues the broadcast; so does the CLI, and the page
 * continues the CLI's.
 */
import {
  BROADCAST_STATE_TYPE,
  CAPTURE_STATE_PREFIX,
  parseBroadcastState,
  type ResumeBackup,
  type StoredCapture,
} from '@mxcast/matrix/browser';
import type { Epoch } from '@mxcast/format';
import { resumeRecordProblem, type ResumeRecord } from '@mxcast/protocol';
import type { WebResumeState } from '../broadcast/resume-store.ts';
import type { WebMatrixSession } from './matrix-web-session.ts';

/**
 * At most one write of the secret per this many ms while only the acked block moves. Each write
 * is a homeserver PUT of account data that Synapse also pushes to every sync of the user's
 * devices, so once per ack (4 per second) would be a load on both for nothing: a resume reads
 * the relay's stored offset (tus HEAD) anyway and moves a stale point forward by whole CBR
 * blocks (pointAfter). What must not wait is a new key epoch: it is stored before its epoch
 * event goes out (`epoch`), as the CLI does.
 */
export const BACKUP_EVERY_MS = 5_000;
/** How long an epoch event waits for the secret's write before it goes out anyway. */
const EPOCH_STORE_WAIT_MS = 3_000;

/** The page's state as the shared secret's plaintext (the CLI's capture state plus pageSeq/ahead). */
export function toStoredCapture(s: WebResumeState): StoredCapture {
  const resume: ResumeRecord = {
    version: 1,
    relay: s.relayUrl,
    mxc: s.mxc,
    file: { ...s.file, url: s.mxc },
    epochs: s.epochs,
    preset: s.preset,
    geometry: s.geometry,
    title: s.title,
    serial: s.serial,
    nextSeq: s.nextSeq,
    offset: s.offset,
    granule: s.granule,
    updatedAt: new Date(s.updatedTs).toISOString(),
    pageSeq: s.pageSeq,
    ahead: s.ahead ?? [],
  };
  return {
    roomId: s.roomId,
    broadcastId: s.broadcastId,
    announcementEventId: s.announcementEventId,
    startedTs: s.startedTs,
    resume,
  };
}

/**
 * The secret's plaintext (the page's or the CLI's) as the page's state, owned by this device
 * from now on. Page seq = block seq for both writers (blocks 0 and 1 are the Ogg header pages).
 */
export function fromStoredCapture(
  c: StoredCapture,
  owner: { userId: string; deviceId: string },
  relayUrl: string = location.origin,
): WebResumeState {
  const r = c.resume;
  const problem = resumeRecordProblem(r);
  if (problem) throw new Error(`the backup's state of ${c.broadcastId} is malformed: ${problem}`);
  const epochs: Epoch[] = r.epochs?.length
    ? r.epochs
    : [{ startSeq: 0, key: r.file.key, iv: r.file.iv } as Epoch];
  return {
    version: 1,
    relayUrl,
    mxc: r.mxc,
    ...owner,
    roomId: c.roomId,
    broadcastId: c.broadcastId,
    announcementEventId: c.announcementEventId,
    file: r.file,
    epochs,
    nextSeq: r.nextSeq,
    offset: r.offset,
    serial: r.serial,
    pageSeq: r.pageSeq ?? r.nextSeq,
    granule: r.granule,
    ahead: r.ahead ?? [],
    preset: r.preset,
    // Both writers store the full geometry they declared at create.
    geometry: r.geometry,
    title: r.title,
    startedTs: c.startedTs,
    updatedTs: Date.parse(r.updatedAt) || Date.now(),
  };
}

/** An unfinished broadcast of this user in the room whose secret is in the account data. */
export interface BackupOffer {
  broadcastId: string;
  startedTs: number;
  /** When the room's state last changed (the broadcast's last start, pause or resume). */
  stateTs: number;
}

/**
 * The room's newest broadcast of this user that is not `stopped` and has a non-empty secret.
 * Nothing is decrypted (that needs the passphrase): the secret's `encrypted` map is enough to
 * know there is something to offer.
 */
export async function findBackupOffer(
  session: WebMatrixSession,
  roomId: string,
): Promise<BackupOffer | null> {
  const room = session.client.getRoom(roomId);
  if (!room) return null;
  const mine = room.currentState
    .getStateEvents(BROADCAST_STATE_TYPE)
    .filter((ev) => ev.getSender() === session.userId)
    .map((ev) => ({ id: ev.getStateKey() ?? '', st: parseBroadcastState(ev.getContent()) }))
    .filter((c) => c.st && c.st.state !== 'stopped')
    .sort((a, b) => b.st!.started_ts - a.st!.started_ts);
  for (const { id, st } of mine) {
    const content = (await session.client
      .getAccountDataFromServer(`${CAPTURE_STATE_PREFIX}${id}` as never)
      .catch(() => null)) as { encrypted?: Record<string, unknown> } | null;
    if (content?.encrypted && Object.keys(content.encrypted).length > 0) {
      return { broadcastId: id, startedTs: st!.started_ts, stateTs: st!.state_ts };
    }
  }
  return null;
}

export interface BackupMirrorEvents {
  onError(message: string): void;
  /** A write landed: the state it holds, and how many writes so far. */
  onStored?(state: WebResumeState, stores: number): void;
}

/**
 * Writes the page's state to the secret at the rate above, one write at a time (an older state
 * never lands after a newer one), and empties it when the broadcast ends. A failed write costs
 * only the resume from another device, never the broadcast: it is reported and retried with the
 * next state.
 */
export class BackupMirror {
  readonly #backup: Promise<ResumeBackup>;
  readonly #events: BackupMirrorEvents;
  #latest: WebResumeState | null = null;
  #storedEpochs = 0;
  #lastStoreTs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued: Promise<void> | null = null;
  #ended = false;
  /** Writes done (for the page's status line). */
  stores = 0;

  constructor(backup: Promise<ResumeBackup>, events: BackupMirrorEvents) {
    this.#backup = backup;
    this.#events = events;
    // An unopened backup (wrong passphrase) is reported once, by whoever opened it.
    backup.catch(() => undefined);
  }

  /** The page's newest state (each relay ack): stored now when its epochs are new, else soon. */
  update(state: WebResumeState): void {
    if (this.#ended) return;
    this.#latest = state;
    if (state.epochs.length !== this.#storedEpochs) {
      void this.#storeNow();
      return;
    }
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastStoreTs + BACKUP_EVERY_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#storeNow();
    }, wait);
  }

  /**
   * A key epoch is about to be announced: stored first with it (a device resuming after a crash
   * must know every epoch a listener may have been told of), waiting at most a few seconds.
   */
  async epoch(epoch: Epoch): Promise<void> {
    const s = this.#latest;
    if (!s || this.#ended) return;
    const next = s.epochs.some((e) => e.startSeq === epoch.startSeq)
      ? s
      : { ...s, epochs: [...s.epochs, epoch], updatedTs: Date.now() };
    this.#latest = next;
    // Already in a state stored (not merely queued): nothing to wait for.
    if (this.#storedEpochs >= next.epochs.length) return;
    await Promise.race([
      this.#storeNow(),
      new Promise((resolve) => setTimeout(resolve, EPOCH_STORE_WAIT_MS)),
    ]);
  }

  /** Stop or Cancel: nothing left to resume, the secret is emptied. */
  async ended(broadcastId: string): Promise<void> {
    this.#ended = true;
    clearTimeout(this.#timer);
    await this.#chain;
    try {
      await (await this.#backup).clear(broadcastId);
    } catch (error) {
      this.#events.onError(`backup not cleared: ${(error as Error).message}`);
    }
  }

  /** One write queued at most: it takes the newest state when its turn comes. */
  #storeNow(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queued) return this.#queued;
    const run = this.#chain.then(async () => {
      this.#queued = null;
      const s = this.#latest;
      if (!s || this.#ended) return;
      this.#lastStoreTs = Date.now();
      try {
        await (await this.#backup).store(toStoredCapture(s));
        this.#storedEpochs = Math.max(this.#storedEpochs, s.epochs.length);
        this.stores++;
        this.#events.onStored?.(s, this.stores);
      } catch (error) {
        this.#events.onError(`backup not written: ${(error as Error).message}`);
      }
    });
    this.#chain = run;
    this.#queued = run;
    return run;
  }
}

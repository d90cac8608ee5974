/**
 * The broadcaster's epoch policy in one place (docs/matrix.md "Key epochs"): when to ask the
 * capture for a new epoch (a member left, was kicked or banned; a member joined under the
 * `joined` history policy; the broadcaster's user asked with `mxcast rekey`), the epoch event
 * for each epoch the capture starts (announce-ahead: the capture calls `announce` from its
 * onEpoch, before the epoch's first block is sealed), and what a key re-share to a newcomer
 * carries: every epoch (`shared`) or only the newest (`joined`).
 */
import { epochFile } from '@mxcast/format';
import {
  BROADCAST_KEY,
  BROADCAST_REANNOUNCE_TYPE,
  reannouncementContent,
} from './broadcast-events.ts';
import { reannounceBroadcast, sendBroadcastEvent, type Broadcast } from './broadcast-sender.ts';
import { HEADER_EPOCH_END, type EpochReason, type KeyEpoch } from './epoch-events.ts';
import {
  sendEpoch,
  watchMembership,
  watchRekeyRequests,
  type HistoryPolicy,
  type MembershipWatch,
} from './epoch-sender.ts';
import { JoinEpochGate } from './join-epoch-gate.ts';
import { watchKeyRequests } from './key-request.ts';
import type { MatrixSession } from './matrix-session.ts';

/** An epoch as the capture hands it over (the key schedule's Epoch: no index). */
export interface CaptureEpoch {
  startSeq: number;
  key: KeyEpoch['key'];
  iv: string;
}

export interface EpochAnnouncerOptions {
  policy: HistoryPolicy;
  /** Asks the capture for a new epoch; the capture answers by calling announce(). */
  rekey: (reason: EpochReason) => unknown;
  /** Rekey when a member leaves, is kicked or banned (default true). */
  rekeyOnLeave?: boolean;
  /** How long a `joined` re-share waits for the join's epoch before giving up (default 30 s). */
  joinEpochWaitMs?: number;
  onNotice?: (text: string) => void;
  onError?: (err: unknown) => void;
  /**
   * Epochs (index 1 on) announced by an earlier run of this broadcast (`capture --resume`): new
   * ones are numbered after them, and a re-share carries them.
   */
  known?: readonly KeyEpoch[];
  /** First wait before sending a failed epoch event again (default 250 ms, doubling to 5 s). */
  retryFirstMs?: number;
}

/** The wire form of one epoch inside a re-announcement's `org.mxcast.broadcast.epochs`. */
function wire(e: KeyEpoch): Record<string, unknown> {
  return { epoch: e.index, start_seq: e.startSeq, key: e.key, iv: e.iv };
}

/**
 * A re-announcement that carries epochs. `shared`: the announcement's file (epoch 0) and every
 * later epoch. `joined`: the file is the newest epoch's own plain v3 EncryptedFile (a reader
 * without epochs decrypts from that epoch on, and nothing earlier), marked with `key_epoch`.
 */
export function epochReannouncementContent(
  b: Broadcast,
  epochs: readonly KeyEpoch[],
  policy: HistoryPolicy,
): Record<string, unknown> {
  const newest = epochs[epochs.length - 1];
  if (policy === 'shared' || !newest) {
    const content = reannouncementContent(b.announcement, b.announcementEventId);
    const ours = content[BROADCAST_KEY] as Record<string, unknown>;
    return { ...content, [BROADCAST_KEY]: { ...ours, epochs: epochs.map(wire) } };
  }
  const file = epochFile(newest, b.announcement.file.url);
  const content = reannouncementContent({ ...b.announcement, file }, b.announcementEventId);
  const ours = content[BROADCAST_KEY] as Record<string, unknown>;
  // The header epoch (docs/format.md "Key epochs"): when epoch 1 starts at the first audio
  // block, epoch 0 holds only OpusHead and OpusTags — geometry and the title, both already in
  // this very event — so the newcomer gets it and can start a player; no audio of the past.
  const first = epochs[0];
  const header =
    first?.index === 1 && first.startSeq === HEADER_EPOCH_END
      ? {
          header_epoch: {
            key: b.announcement.file.key,
            iv: b.announcement.file.iv,
            end_seq: HEADER_EPOCH_END,
          },
        }
      : {};
  return {
    ...content,
    [BROADCAST_KEY]: { ...ours, key_epoch: newest.index, epochs: [wire(newest)], ...header },
  };
}

export class EpochAnnouncer {
  readonly #session: MatrixSession;
  readonly #b: Broadcast;
  readonly #opts: EpochAnnouncerOptions;
  readonly #epochs: KeyEpoch[] = [];
  #lastIndex = 0;
  #sending: Promise<unknown> = Promise.resolve();
  /** Reasons of the epochs asked for and not yet announced, oldest first. */
  readonly #reasons: EpochReason[] = [];
  /** `joined`: a re-share carries only an epoch fixed after the latest join (join-epoch-gate.ts). */
  readonly #joinGate = new JoinEpochGate();
  readonly #watches: MembershipWatch[];
  #stopped = false;
  /** Epoch events sent, with the Megolm session each went out in. */
  readonly sent: { index: number; eventId: string; sessionId: string | null }[] = [];

  constructor(session: MatrixSession, b: Broadcast, opts: EpochAnnouncerOptions) {
    this.#session = session;
    this.#b = b;
    this.#opts = opts;
    for (const e of opts.known ?? []) {
      this.#epochs.push(e);
      this.#lastIndex = Math.max(this.#lastIndex, e.index);
    }
    b.reshare = () => this.#reshare();
    const rekeyOnLeave = opts.rekeyOnLeave ?? true;
    this.#watches = [
      watchMembership(session, b.roomId, (change, userId) => {
        if (change === 'left' && rekeyOnLeave) this.request('membership', `${userId} left`);
        if (change === 'joined' && opts.policy === 'joined') {
          this.#joinGate.joined();
          this.request('join', `${userId} joined`);
        }
      }),
      watchRekeyRequests(session, b, () => this.request('request', 'rekey requested')),
      // A member's device that appeared after the keys went out asks for them (key-request.ts):
      // the answer is this announcer's re-share, so `joined` hands out only the newest epoch.
      watchKeyRequests(session, b, {
        answer: () => reannounceBroadcast(session, b),
        ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
      }),
    ];
  }

  get policy(): HistoryPolicy {
    return this.#opts.policy;
  }

  /** Epochs announced so far (index 1 on; epoch 0 is the announcement's file). */
  get epochs(): readonly KeyEpoch[] {
    return this.#epochs;
  }

  /** Asks the capture for a new epoch, for `reason`. */
  request(reason: EpochReason, why: string): void {
    this.#reasons.push(reason);
    this.#opts.onNotice?.(`new key epoch: ${why}`);
    const failed = (err: unknown): void => {
      const at = this.#reasons.lastIndexOf(reason);
      if (at >= 0) this.#reasons.splice(at, 1);
      this.#opts.onError?.(err);
    };
    try {
      const r = this.#opts.rekey(reason);
      if (r instanceof Promise) r.catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  /**
   * The capture's onEpoch: sends the epoch event (after a forced Megolm rotation, epoch-sender.ts)
   * and resolves once it is in the room, before the capture seals the epoch's first block.
   */
  announce(e: CaptureEpoch): Promise<void> {
    // Indexes are given in the order the capture fixed the epochs, and the events go out one
    // after another in that order: a scheduled rekey and a kick's can overlap.
    const epoch: KeyEpoch = { index: ++this.#lastIndex, ...e };
    const reason = this.#reasons.shift() ?? 'schedule';
    const covers = this.#joinGate.fixed();
    const send = this.#sending.then(async () => {
      const { backupError, ...r } = await this.#sendWithRetry(epoch, reason);
      if (backupError) this.#opts.onNotice?.(`matrix: ${backupError.message}`);
      this.#epochs.push(epoch);
      this.sent.push({ index: epoch.index, ...r });
      this.#joinGate.sent(covers);
    });
    this.#sending = send.catch(() => undefined);
    return send;
  }

  /**
   * An epoch is fixed before it is announced and never moves (docs/format.md "Key epochs"), so a
   * failed send is retried, with backoff (250 ms doubling to 5 s), until it goes out or the
   * announcer stops: a member's player waits keyWaitMs at the boundary for a key, so a send that
   * succeeds late still reaches those within that wait; each failure is a loud notice.
   */
  async #sendWithRetry(epoch: KeyEpoch, reason: EpochReason): ReturnType<typeof sendEpoch> {
    let delay = this.#opts.retryFirstMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      try {
        return await sendEpoch(this.#session, this.#b, epoch, reason);
      } catch (err) {
        if (this.#stopped) throw err;
        this.#opts.onNotice?.(
          `KEY EPOCH ${epoch.index} (block ${epoch.startSeq}) NOT SENT, attempt ${attempt}: ` +
            `${(err as Error).message}; members stop hearing at block ${epoch.startSeq} ` +
            `until it goes out; retrying in ${(delay / 1000).toFixed(2)} s`,
        );
        await new Promise((r) => setTimeout(r, delay));
        if (this.#stopped) throw err;
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  async #reshare(): Promise<string> {
    if (this.#opts.policy === 'joined') {
      // The newcomer's key is an epoch fixed after its join: wait for it, never send an older one.
      await this.#joinGate.wait(this.#opts.joinEpochWaitMs ?? 30_000);
    }
    // An epoch event already on its way was encrypted for the devices known when it left, maybe
    // not the one this re-share is for (a key request's new device): the re-share carries it too,
    // or that device would miss a whole epoch between the newest it was handed and the next.
    await this.#sending;
    const content = epochReannouncementContent(this.#b, this.#epochs, this.#opts.policy);
    return sendBroadcastEvent(this.#session, this.#b, BROADCAST_REANNOUNCE_TYPE, content);
  }

  stop(): void {
    this.#stopped = true;
    this.#joinGate.close();
    for (const w of this.#watches) w.stop();
    delete this.#b.reshare;
  }
}

/**
 * The two ends of "what the sender vouches for" over Matrix (docs/matrix.md "Checkpoints and
 * completion"). The broadcaster's LiveBroadcastReporter hashes what the capture writes and sends
 * an encrypted checkpoint every N seconds, then a completion (or a cancel); fetchSenderClaims
 * reads them back on a listener's device, from the announcement's m.reference relations, keeping
 * only those the broadcaster sent (anyone in the room can relate an event to the announcement).
 */
import { createHash, type Hash } from 'node:crypto';
import type { MatrixEvent } from 'matrix-js-sdk';
import { BLOCK_HEADER_SIZE } from '@mxcast/format';
import {
  BROADCAST_CANCEL_TYPE,
  BROADCAST_CHECKPOINT_TYPE,
  BROADCAST_COMPLETE_TYPE,
  cancelContent,
  checkpointContent,
  completionContent,
  parseCancel,
  parseCheckpoint,
  parseCompletion,
} from './broadcast-events.ts';
import {
  announceBroadcast,
  sendBroadcastEvent,
  setBroadcastState,
  startKeyReshare,
  type AnnounceOptions,
  type Broadcast,
  type KeyReshare,
} from './broadcast-sender.ts';
import { relatedEvents } from './epoch-listing.ts';
import type { MatrixSession } from './matrix-session.ts';
import {
  CheckpointRecorder,
  type CancelClaim,
  type CheckpointClaim,
  type CompletionClaim,
} from './sender-checkpoints.ts';

export interface ReporterOptions extends AnnounceOptions {
  /** Seconds between checkpoints (`--checkpoint-every`, default 30). */
  checkpointEverySeconds?: number;
  /** A checkpoint or a state change that failed (the capture goes on; the status line says). */
  onError?: (err: unknown) => void;
}

export class LiveBroadcastReporter {
  readonly broadcast: Broadcast;
  readonly #session: MatrixSession;
  readonly #recorder = new CheckpointRecorder();
  readonly #reshare: KeyReshare;
  readonly #timer: NodeJS.Timeout;
  readonly #onError: (err: unknown) => void;
  /** sha256 of the file from its magic on; null for a run that did not write the magic (resumed). */
  #fileHash: Hash | null = null;
  #size = 0;
  #last: CheckpointClaim | null = null;
  /** Event sends, one after another: the room sees the claims in block order. */
  #queue: Promise<unknown> = Promise.resolve();
  checkpoints = 0;

  private constructor(session: MatrixSession, b: Broadcast, opts: ReporterOptions) {
    this.#session = session;
    this.broadcast = b;
    this.#onError = opts.onError ?? (() => {});
    this.#reshare = startKeyReshare(session, b, { onError: this.#onError });
    const every = (opts.checkpointEverySeconds ?? 30) * 1000;
    this.#timer = setInterval(() => this.#enqueue(() => this.#checkpoint()), every);
    // Node only: a browser's timer id is a number (the web app runs this too).
    if (typeof this.#timer === 'object') this.#timer.unref();
  }

  /** Announces the broadcast (encrypted announcement, state `started`) and starts reporting. */
  static async start(
    session: MatrixSession,
    opts: ReporterOptions,
  ): Promise<LiveBroadcastReporter> {
    const b = await announceBroadcast(session, {
      onBackupError: (e) => opts.onError?.(e),
      ...opts,
    });
    return new LiveBroadcastReporter(session, b, opts);
  }

  /**
   * Takes over a broadcast announced by an earlier run, maybe on another device (`capture
   * --resume`, docs/matrix.md "Resume from any device"): the state goes `resumed`, naming this
   * device, and checkpoints go on from the resumed block.
   */
  static async attach(
    session: MatrixSession,
    b: Broadcast,
    opts: Omit<ReporterOptions, keyof AnnounceOptions> & Partial<AnnounceOptions> = {},
  ): Promise<LiveBroadcastReporter> {
    b.state = { ...b.state, device_id: session.deviceId };
    await setBroadcastState(session, b, 'resumed');
    return new LiveBroadcastReporter(session, b, opts as ReporterOptions);
  }

  /** What the capture wrote (seq -1: the file magic), in order. */
  onWrite(seq: number, bytes: Uint8Array): void {
    if (seq === -1) {
      this.#fileHash = createHash('sha256');
    } else {
      this.#recorder.add(seq, bytes.subarray(BLOCK_HEADER_SIZE));
    }
    this.#fileHash?.update(bytes);
    this.#size += bytes.length;
  }

  #enqueue(step: () => Promise<unknown>): Promise<unknown> {
    this.#queue = this.#queue.then(step).catch(this.#onError);
    return this.#queue;
  }

  async #checkpoint(): Promise<void> {
    const claim = this.#recorder.cut();
    if (!claim) return;
    this.#last = claim;
    await sendBroadcastEvent(this.#session, this.broadcast, BROADCAST_CHECKPOINT_TYPE, {
      ...checkpointContent(claim),
    });
    this.checkpoints++;
  }

  /** Network loss and back: the room's state says paused / resumed (when it can be reached). */
  pause(): Promise<unknown> {
    return this.#enqueue(() => setBroadcastState(this.#session, this.broadcast, 'paused'));
  }

  resume(): Promise<unknown> {
    return this.#enqueue(() => setBroadcastState(this.#session, this.broadcast, 'resumed'));
  }

  /** The capture finished: the completion (last interval, whole file's sha256), then `stopped`. */
  async complete(): Promise<CompletionClaim> {
    this.#end();
    let claim: CompletionClaim | null = null;
    await this.#enqueue(async () => {
      // Nothing since the last checkpoint: the completion repeats it (a listener counts it once).
      const last = this.#recorder.cut() ?? this.#last;
      if (!last) throw new Error('no block was written: nothing to complete');
      claim = { ...last, size: this.#size };
      if (this.#fileHash) claim.fileSha256 = this.#fileHash.digest('base64').replace(/=+$/, '');
      await sendBroadcastEvent(this.#session, this.broadcast, BROADCAST_COMPLETE_TYPE, {
        ...completionContent(claim),
      });
      await setBroadcastState(this.#session, this.broadcast, 'stopped');
    });
    if (!claim) throw new Error('the completion event could not be sent');
    return claim;
  }

  /**
   * The capture failed and will not go on in this run (input error, relay refusal, outage past
   * its limit): a checkpoint for the blocks since the last one (what was written stays
   * verifiable), then `paused`. No cancel and no `stopped`: listeners see it interrupted and
   * `capture --resume` can continue it (docs/matrix.md "Checkpoints and completion").
   */
  async interrupt(): Promise<void> {
    this.#end();
    await this.#enqueue(async () => {
      await this.#checkpoint();
      await setBroadcastState(this.#session, this.broadcast, 'paused');
    });
  }

  /** The broadcaster cancelled: its own event (not a completion), then `stopped`. */
  async cancel(blockCount: number): Promise<void> {
    this.#end();
    await this.#enqueue(async () => {
      await sendBroadcastEvent(this.#session, this.broadcast, BROADCAST_CANCEL_TYPE, {
        ...cancelContent({ blockCount }),
      });
      await setBroadcastState(this.#session, this.broadcast, 'stopped');
    });
  }

  #end(): void {
    clearInterval(this.#timer);
    this.#reshare.stop();
  }
}

/** The sender's claims on one broadcast, as far as the room holds them now. */
export interface SenderClaims {
  checkpoints: CheckpointClaim[];
  completion: CompletionClaim | null;
  cancel: CancelClaim | null;
}

async function decrypted(session: MatrixSession, raw: object): Promise<MatrixEvent | null> {
  const ev = session.client.getEventMapper()(raw as never);
  await session.client.decryptEventIfNeeded(ev);
  return ev.isDecryptionFailure() ? null : ev;
}

/**
 * Reads the checkpoint, completion and cancel events related to the announcement, sent by
 * `sender` (the broadcaster). A malformed claim from the sender throws: it is not guessed at.
 * With `seen`, events whose id is in it are skipped (not decrypted again) and the ids of those
 * read are added: a listener polling while it plays gets only the new claims each time.
 */
export async function fetchSenderClaims(
  session: MatrixSession,
  roomId: string,
  announcementEventId: string,
  sender: string,
  seen?: Set<string>,
): Promise<SenderClaims> {
  const out: SenderClaims = { checkpoints: [], completion: null, cancel: null };
  // relatedEvents: /relations, or, for a `joined` newcomer whom Synapse refuses them (403), the
  // room's messages it may see (docs/matrix.md "Key epochs").
  for await (const raw of relatedEvents(session, roomId, announcementEventId)) {
    const r = raw as typeof raw & { event_id?: string };
    if (r.sender !== sender || (r.event_id && seen?.has(r.event_id))) continue;
    const ev = await decrypted(session, r);
    // Not decryptable (yet: the key may still be on its way): tried again next time.
    if (!ev) continue;
    if (r.event_id) seen?.add(r.event_id);
    const type = ev.getType();
    if (type === BROADCAST_CHECKPOINT_TYPE) out.checkpoints.push(parseCheckpoint(ev.getContent()));
    else if (type === BROADCAST_COMPLETE_TYPE) out.completion = parseCompletion(ev.getContent());
    else if (type === BROADCAST_CANCEL_TYPE) out.cancel = parseCancel(ev.getContent());
  }
  out.checkpoints.sort((a, b) => a.fromSeq - b.fromSeq);
  return out;
}

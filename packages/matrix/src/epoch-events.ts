/**
 * Key epochs over Matrix (docs/matrix.md "Key epochs"): the events that carry a broadcast's
 * next key and the request to start one. Both are Megolm-encrypted room events related to the
 * announcement (m.reference); neither is ever a state event (Matrix does not encrypt state) and
 * their content is never logged. An epoch is {index, startSeq, key, iv}: the one MSC4016 v3 file
 * switches to `key`/`iv` at block `startSeq` (docs/format.md "Key epochs").
 */
import { ENCRYPTED_FILE_VERSION, parseEncryptedFile, type JsonWebKeyAesGcm } from '@mxcast/format';
import { BROADCAST_KEY, BroadcastEventError } from './broadcast-events.ts';

/** Encrypted, relates to the announcement: epoch `index` starts at block `start_seq`. */
export const BROADCAST_EPOCH_TYPE = `${BROADCAST_KEY}.epoch`;
/** Encrypted, relates to the announcement: "start a new epoch now" (the broadcaster's user only). */
export const BROADCAST_REKEY_TYPE = `${BROADCAST_KEY}.rekey`;

/** One key epoch of a broadcast. Epoch 0 is the announcement's own key, at seq 0. */
export interface KeyEpoch {
  index: number;
  startSeq: number;
  key: JsonWebKeyAesGcm;
  /** 96-bit IV, standard base64 without padding (as an EncryptedFile's). */
  iv: string;
  /**
   * Set only on a header epoch handed to a `joined` newcomer (docs/matrix.md "Key epochs"):
   * this key covers the blocks before endSeq only, and the epochs from endSeq up to the
   * newcomer's first are withheld from it.
   */
  endSeq?: number;
}

/**
 * Where the header epoch ends (docs/format.md "Key epochs"): blocks 0 and 1 are OpusHead and
 * OpusTags (docs/audio.md), and epoch 1 of a broadcast with epochs starts at the first audio
 * block.
 */
export const HEADER_EPOCH_END = 2;

/** Why an epoch began: carried in the event so a listener's status line can say it. */
export const EPOCH_REASONS = ['membership', 'schedule', 'request', 'join'] as const;
export type EpochReason = (typeof EPOCH_REASONS)[number];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The epoch event's content (sendBroadcastEvent adds the m.reference to the announcement). */
export function epochContent(
  broadcastId: string,
  e: KeyEpoch,
  reason: EpochReason,
): Record<string, unknown> {
  return {
    broadcast_id: broadcastId,
    epoch: e.index,
    start_seq: e.startSeq,
    key: e.key,
    iv: e.iv,
    reason,
  };
}

/** Parses a decrypted epoch event; throws on a bad one (a key is never guessed at). */
export function parseEpoch(content: unknown): { broadcastId: string; epoch: KeyEpoch } {
  if (!isObject(content)) throw new BroadcastEventError('epoch event is not an object');
  const { broadcast_id: id, epoch, start_seq: startSeq } = content;
  if (typeof id !== 'string' || id.length === 0) throw bad('broadcast_id');
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) throw bad('epoch');
  if (!Number.isSafeInteger(startSeq) || (startSeq as number) < 1) throw bad('start_seq');
  let file;
  try {
    // The key and IV are validated exactly as an EncryptedFile's (docs/format.md).
    file = parseEncryptedFile({ v: ENCRYPTED_FILE_VERSION, key: content.key, iv: content.iv });
  } catch (err) {
    throw new BroadcastEventError(`epoch key: ${(err as Error).message}`);
  }
  return {
    broadcastId: id,
    epoch: { index: epoch as number, startSeq: startSeq as number, key: file.key, iv: file.iv },
  };
}

function bad(field: string): BroadcastEventError {
  return new BroadcastEventError(`epoch field ${field} missing or invalid`);
}

export function rekeyRequestContent(broadcastId: string): Record<string, unknown> {
  return { broadcast_id: broadcastId };
}

export function parseRekeyRequest(content: unknown): { broadcastId: string } {
  const id = isObject(content) ? content.broadcast_id : undefined;
  if (typeof id !== 'string' || id.length === 0) throw bad('broadcast_id');
  return { broadcastId: id };
}

/**
 * A set of epochs as a listener collects them: ordered by index, each index once, and start
 * sequence numbers strictly increasing with the index — an epoch that contradicts one already
 * held (same index, other key; or out of order) is refused, not merged.
 */
export class EpochSet {
  readonly #byIndex = new Map<number, KeyEpoch>();

  add(e: KeyEpoch): boolean {
    const had = this.#byIndex.get(e.index);
    if (had) {
      if (had.key.k !== e.key.k || had.iv !== e.iv || had.startSeq !== e.startSeq) {
        throw new BroadcastEventError(`two different keys for epoch ${e.index}`);
      }
      return false;
    }
    for (const o of this.#byIndex.values()) {
      if (o.index < e.index !== o.startSeq < e.startSeq) {
        throw new BroadcastEventError(
          `epoch ${e.index} at seq ${e.startSeq} contradicts epoch ${o.index} at seq ${o.startSeq}`,
        );
      }
    }
    this.#byIndex.set(e.index, e);
    return true;
  }

  /** Held epochs, by index. */
  list(): KeyEpoch[] {
    return [...this.#byIndex.values()].sort((a, b) => a.index - b.index);
  }

  /**
   * The epoch that covers `seq`: the held one with the greatest startSeq <= seq, but only when
   * the epoch after it is held too or none later is (a gap means the missing epoch may start
   * before `seq`, and its key is not ours: undefined, never the older key).
   */
  covering(seq: number): KeyEpoch | undefined {
    let best: KeyEpoch | undefined;
    let newest = -1;
    for (const e of this.#byIndex.values()) {
      newest = Math.max(newest, e.index);
      if (e.startSeq <= seq && (!best || e.startSeq > best.startSeq)) best = e;
    }
    if (!best || best.index === newest || this.#byIndex.has(best.index + 1)) return best;
    return undefined;
  }

  get size(): number {
    return this.#byIndex.size;
  }
}

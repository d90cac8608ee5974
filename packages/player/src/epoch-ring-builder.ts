/**
 * The one way a room listener's EpochKeyRing is made from its epoch feed (docs/matrix.md "Key
 * epochs"), for the CLI (`mxcast listen --homeserver --room`) and the web app alike: the epochs
 * this device can read now, then each one as the feed brings it, and lost access when the feed
 * reports it.
 *
 * It lives with the ring rather than in @mxcast/matrix because what it decides is the player's:
 * which stand-in key covers what, and which stretch is withheld (a block there says NO_ACCESS,
 * not TAMPERED). The feed is taken by shape only (`openFeed` is @mxcast/matrix's
 * `feedEpochKeys` bound to a session and a broadcast), so this package does not depend on the
 * Matrix SDK.
 */
import { generateEpoch, type Epoch } from '@mxcast/format';
import { EpochKeyRing } from './epoch-keys.ts';
import { firstHeldSeq } from './live-key-start.ts';

/** One epoch as the feed lists it: epoch 0 included when this device holds it. */
export interface FedEpoch extends Epoch {
  index: number;
  /**
   * Set only on a header epoch handed to a `joined` newcomer: its key opens the blocks before
   * endSeq (OpusHead, OpusTags), and the epochs from there to the newcomer's first are not its.
   */
  endSeq?: number;
}

/** What the feed calls as epochs arrive: the ring's own shape (add, loseAccess). */
export interface EpochFeedSink {
  add(epoch: Epoch): void;
  loseAccess(reason: string): void;
}

/** A running feed: what it fed so far, and how to stop it. */
export interface EpochFeed {
  readonly epochs: readonly FedEpoch[];
  stop(): void;
}

export interface RingFromFeed<F extends EpochFeed> {
  keys: EpochKeyRing;
  feed: F;
}

/** Why the stretch after a header epoch opens nothing for this listener (docs/matrix.md). */
export const JOINED_WITHHELD_REASON =
  'it was sent before you joined, under the joined history policy';

/**
 * Starts the feed with a sink that fills the ring and builds the ring from what the feed knows
 * once started. `onNotice` gets one line per event worth telling the listener (an epoch
 * arriving, access lost, an epoch refused).
 */
export async function ringFromFeed<F extends EpochFeed>(
  openFeed: (sink: EpochFeedSink) => Promise<F>,
  onNotice: (text: string) => void,
): Promise<RingFromFeed<F>> {
  // The feed delivers while it starts (the epochs it reads first) and may deliver before the
  // ring exists: held until then, in arrival order (the feed sends them in index order).
  const early: Epoch[] = [];
  let lost: string | undefined;
  const box: { ring?: EpochKeyRing } = {};
  const feed = await openFeed({
    add: (e) => {
      if (!box.ring) return void early.push(e);
      box.ring.add(e);
      onNotice(`key epoch from block ${e.startSeq}`);
    },
    loseAccess: (reason) => {
      onNotice(`no access: ${reason}`);
      if (box.ring) box.ring.loseAccess(reason);
      else lost ??= reason;
    },
  });
  const zero = feed.epochs.find((e) => e.index === 0);
  // A newcomer under `joined` history without even a header epoch (a broadcast made before
  // header epochs existed): a fresh random key stands in for epoch 0, under which nothing before
  // its first epoch opens (the past stays unreadable, as intended; the player says WRONG_KEY).
  const first: Epoch = zero ? { startSeq: 0, key: zero.key, iv: zero.iv } : { ...generateEpoch(0) };
  const ring = new EpochKeyRing([first]);
  // A header epoch (a `joined` newcomer's re-share) opens OpusHead and OpusTags only; the epochs
  // from its end to the newcomer's first are withheld: a block there says NO_ACCESS, not
  // TAMPERED, and a live start waits for the first epoch held (live-key-start.ts).
  const end = zero?.endSeq;
  const withheld = end !== undefined && !feed.epochs.some((e) => e.startSeq === end);
  if (withheld) ring.withhold(end, JOINED_WITHHELD_REASON);
  for (const e of early) {
    try {
      ring.add(e);
    } catch (err) {
      // As the feed does for a live one: an epoch the schedule refuses is told, not fatal.
      onNotice(`key epochs: ${(err as Error).message}`);
    }
  }
  box.ring = ring;
  if (lost !== undefined) ring.loseAccess(lost);
  onNotice(`${ring.epochs.length} key epoch(s) held`);
  if (withheld) {
    const own = firstHeldSeq(ring, end);
    onNotice(
      own === undefined
        ? `blocks from ${end} on were sent before you joined: waiting for your first key epoch`
        : `blocks ${end}-${own - 1} were sent before you joined: a live listen starts at block ${own} at the earliest`,
    );
  }
  return { keys: ring, feed };
}

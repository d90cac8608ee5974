/**
 * A listener's key epochs, live (docs/matrix.md "Key epochs"): the epochs this device can read
 * now (fetchEpochs), then each new epoch event (or re-announcement) of the broadcaster as the
 * sync brings it, fed to the player's key source; and lost access reported to it when this
 * user's membership ends or an event of the broadcaster stays undecryptable (its Megolm session
 * was never shared with this device: the session rotated past it). The sink's shape is the
 * player's EpochKeyRing (add, loseAccess); @mxcast/player is not a dependency of this package.
 */
import { MatrixEventEvent, RoomEvent, type MatrixEvent } from 'matrix-js-sdk';
import { BROADCAST_REANNOUNCE_TYPE, parseAnnouncement } from './broadcast-events.ts';
import { BROADCAST_EPOCH_TYPE, parseEpoch, type KeyEpoch } from './epoch-events.ts';
import { announcementEpochs, fetchEpochs, watchOwnMembership } from './epoch-listing.ts';
import type { MatrixSession } from './matrix-session.ts';

export interface EpochSink {
  add(epoch: { startSeq: number; key: KeyEpoch['key']; iv: string }): void;
  loseAccess(reason: string): void;
}

export interface FeedTarget {
  roomId: string;
  announcementEventId: string;
  broadcastId: string;
  /** The broadcaster: only its events count. */
  broadcaster: string;
}

export interface EpochKeyFeed {
  /** Epochs fed so far (index 0 included when this device holds it). */
  readonly epochs: readonly KeyEpoch[];
  stop(): void;
}

/**
 * Starts feeding `sink`. `graceMs` (default 8 s): how long an undecryptable event of the
 * broadcaster may wait for its room key (a to-device message can come a sync after the event)
 * before this device is declared cut off.
 */
export async function feedEpochKeys(
  session: MatrixSession,
  t: FeedTarget,
  sink: EpochSink,
  options: { graceMs?: number; onError?: (err: unknown) => void } = {},
): Promise<EpochKeyFeed> {
  const { client } = session;
  const graceMs = options.graceMs ?? 8_000;
  const onError = options.onError ?? (() => {});
  const fed = new Map<number, KeyEpoch>();
  const feed = (list: KeyEpoch[]): void => {
    for (const e of [...list].sort((a, b) => a.index - b.index)) {
      if (fed.has(e.index) || e.index === 0) {
        fed.set(e.index, e);
        continue;
      }
      try {
        sink.add({ startSeq: e.startSeq, key: e.key, iv: e.iv });
        fed.set(e.index, e);
      } catch (err) {
        onError(err);
      }
    }
  };
  const first = await fetchEpochs(
    session,
    t.roomId,
    t.announcementEventId,
    t.broadcastId,
    t.broadcaster,
  );
  feed(first.epochs.list());

  const pending = new Map<string, NodeJS.Timeout>();
  const lose = (reason: string): void => {
    for (const timer of pending.values()) clearTimeout(timer);
    pending.clear();
    sink.loseAccess(reason);
  };
  const read = (ev: MatrixEvent): void => {
    const id = ev.getId() ?? '';
    if (ev.isDecryptionFailure()) {
      if (!pending.has(id)) {
        const timer = setTimeout(() => {
          pending.delete(id);
          lose('an event of the broadcaster cannot be decrypted by this device (no room key)');
        }, graceMs);
        timer.unref();
        pending.set(id, timer);
      }
      return;
    }
    clearTimeout(pending.get(id));
    pending.delete(id);
    try {
      if (ev.getType() === BROADCAST_EPOCH_TYPE) {
        const p = parseEpoch(ev.getContent());
        if (p.broadcastId === t.broadcastId) feed([p.epoch]);
      } else if (ev.getType() === BROADCAST_REANNOUNCE_TYPE) {
        if (parseAnnouncement(ev.getContent())?.broadcastId === t.broadcastId) {
          feed(announcementEpochs(ev.getContent()));
        }
      }
    } catch (err) {
      onError(err);
    }
  };
  const ours = (ev: MatrixEvent): boolean => {
    if (ev.getRoomId() !== t.roomId || ev.getSender() !== t.broadcaster) return false;
    const rel = (ev.getWireContent() as { 'm.relates_to'?: { event_id?: string } })['m.relates_to'];
    return rel?.event_id === t.announcementEventId;
  };
  const onTimeline = (ev: MatrixEvent): void => {
    if (!ours(ev)) return;
    void client.decryptEventIfNeeded(ev).then(() => read(ev), onError);
  };
  const onDecrypted = (ev: MatrixEvent): void => {
    if (ours(ev)) read(ev);
  };
  client.on(RoomEvent.Timeline, onTimeline);
  client.on(MatrixEventEvent.Decrypted, onDecrypted);
  const membership = watchOwnMembership(session, t.roomId, (m) =>
    lose(m === 'ban' ? 'you were banned from the room' : 'you left or were removed from the room'),
  );
  return {
    get epochs() {
      return [...fed.values()].sort((a, b) => a.index - b.index);
    },
    stop() {
      client.off(RoomEvent.Timeline, onTimeline);
      client.off(MatrixEventEvent.Decrypted, onDecrypted);
      membership.stop();
      for (const timer of pending.values()) clearTimeout(timer);
    },
  };
}

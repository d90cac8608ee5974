/**
 * The listener's side of key epochs (docs/matrix.md "Key epochs"): the epochs this device can
 * read from the broadcaster's epoch events (m.reference relations of the announcement), and
 * whether it has lost access — its membership ended, or the broadcaster has sent events in a
 * Megolm session this device was never given (the session rotated past it at a removal).
 */
import { Direction, RoomMemberEvent, type MatrixEvent, type RoomMember } from 'matrix-js-sdk';
import { BROADCAST_EPOCH_TYPE, EpochSet, parseEpoch } from './epoch-events.ts';
import type { MatrixSession } from './matrix-session.ts';

export interface EpochListing {
  epochs: EpochSet;
  /**
   * The broadcaster's related events this device cannot decrypt, with the Megolm session each
   * was sent in (its id is in the clear part of m.room.encrypted).
   */
  undecryptable: { eventId: string; sessionId: string | null; ts: number; reason: string }[];
  /** Newest origin_server_ts among the broadcaster's events this device could decrypt. */
  newestReadableTs: number;
}

/** Reads every epoch event of the broadcast sent by `sender` that this device can decrypt. */
export async function fetchEpochs(
  session: MatrixSession,
  roomId: string,
  announcementEventId: string,
  broadcastId: string,
  sender: string,
): Promise<EpochListing> {
  const { client } = session;
  const out: EpochListing = { epochs: new EpochSet(), undecryptable: [], newestReadableTs: 0 };
  let from: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await client.fetchRelations(roomId, announcementEventId, 'm.reference', null, {
      dir: Direction.Forward,
      limit: 100,
      ...(from ? { from } : {}),
    });
    for (const raw of res.chunk) {
      // Anyone in the room can relate an event to the announcement: only the broadcaster's count.
      if (raw.sender !== sender) continue;
      const ev = client.getEventMapper()(raw as never);
      await client.decryptEventIfNeeded(ev);
      if (ev.isDecryptionFailure()) {
        const wire = ev.getWireContent() as { session_id?: unknown };
        out.undecryptable.push({
          eventId: ev.getId() ?? '',
          sessionId: typeof wire.session_id === 'string' ? wire.session_id : null,
          ts: ev.getTs(),
          reason: String(ev.decryptionFailureReason ?? 'unknown'),
        });
        continue;
      }
      out.newestReadableTs = Math.max(out.newestReadableTs, ev.getTs());
      if (ev.getType() !== BROADCAST_EPOCH_TYPE) continue;
      const parsed = parseEpoch(ev.getContent());
      // An epoch copied from another broadcast of the same sender is not this one's.
      if (parsed.broadcastId === broadcastId) out.epochs.add(parsed.epoch);
    }
    if (!res.next_batch) break;
    from = res.next_batch;
  }
  return out;
}

/**
 * Lost access, as far as the room shows it: an event of the broadcaster this device cannot
 * decrypt that is newer than every one it can (older undecryptable events are the history a
 * `joined` policy keeps from a newcomer, not a loss).
 */
export function lostAccess(l: EpochListing): boolean {
  return l.undecryptable.some((u) => u.ts > l.newestReadableTs);
}

export interface AccessWatch {
  stop(): void;
}

/** Calls `onLost` once when this user's membership of the room ends (left, kicked, banned). */
export function watchOwnMembership(
  session: MatrixSession,
  roomId: string,
  onLost: (membership: string) => void,
): AccessWatch {
  const { client } = session;
  let fired = false;
  const onMember = (_e: MatrixEvent, m: RoomMember): void => {
    if (fired || m.roomId !== roomId || m.userId !== session.userId) return;
    if (m.membership === 'leave' || m.membership === 'ban') {
      fired = true;
      onLost(m.membership);
    }
  };
  client.on(RoomMemberEvent.Membership, onMember);
  return { stop: () => client.off(RoomMemberEvent.Membership, onMember) };
}

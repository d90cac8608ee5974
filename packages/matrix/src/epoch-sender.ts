/**
 * The broadcaster's side of key epochs (docs/matrix.md "Key epochs"): send an epoch's key in a
 * Megolm session the removed members never received, watch the room's membership for the
 * reasons to start one, answer rekey requests from the broadcaster's own user, and pick the
 * history policy from the room's m.room.history_visibility.
 */
import {
  EventType,
  RoomMemberEvent,
  type MatrixEvent,
  type Room,
  type RoomMember,
} from 'matrix-js-sdk';
import { sendBroadcastEvent, type Broadcast } from './broadcast-sender.ts';
import { keyBackupError, sendBackedUp } from './key-backup-upload.ts';
import {
  BROADCAST_EPOCH_TYPE,
  BROADCAST_REKEY_TYPE,
  epochContent,
  parseRekeyRequest,
  rekeyRequestContent,
  type EpochReason,
  type KeyEpoch,
} from './epoch-events.ts';
import type { MatrixSession } from './matrix-session.ts';
import { watchLiveRoomEvents } from './live-room-events.ts';

/**
 * Sends epoch `e` in a new outbound Megolm session. The Rust crypto (matrix-sdk-crypto, behind
 * matrix-js-sdk 37's RoomEncryptor) would rotate by itself on the next encryption when a user
 * who held the session is no longer among the room's encryption targets; discarding the session
 * explicitly makes the rotation not depend on that rule or on when the sync processed the
 * leave: the next encryption creates a session and shares it (to-device, Olm) only with the
 * devices of the members at that moment. Returns the event id, the new session's id, and why
 * the session missed the key backup before the send, if it did.
 */
export async function sendEpoch(
  session: MatrixSession,
  b: Broadcast,
  e: KeyEpoch,
  reason: EpochReason,
): Promise<{ eventId: string; sessionId: string | null; backupError: Error | null }> {
  const crypto = session.client.getCrypto();
  if (!crypto) throw new Error('the session has no crypto');
  await crypto.forceDiscardSession(b.roomId);
  // The new session in the key backup before the event is in the room (key-backup-upload.ts).
  const { result: eventId, backupError } = await sendBackedUp(session, b.roomId, () =>
    sendBroadcastEvent(session, b, BROADCAST_EPOCH_TYPE, epochContent(b.broadcastId, e, reason)),
  );
  const sent = session.client.getRoom(b.roomId)?.findEventById(eventId);
  const wire = sent?.getWireContent() as { session_id?: unknown } | undefined;
  return {
    eventId,
    sessionId: typeof wire?.session_id === 'string' ? wire.session_id : null,
    backupError: backupError && keyBackupError(`epoch ${e.index}`, backupError),
  };
}

/** `shared`: a newcomer gets every earlier epoch's key; `joined`: a join starts a new epoch. */
export type HistoryPolicy = 'shared' | 'joined';

/**
 * The room's default (docs/matrix.md "Key epochs"): `joined`/`invited` history visibility mean
 * the room does not show newcomers the past, so neither does the broadcast; `shared` and
 * `world_readable` (and a room without the event: the spec's default is `shared`) mean it does.
 */
export function historyPolicyOf(room: Room | null): HistoryPolicy {
  const ev = room?.currentState.getStateEvents(EventType.RoomHistoryVisibility, '');
  const v = (ev?.getContent() as { history_visibility?: unknown } | undefined)?.history_visibility;
  return v === 'joined' || v === 'invited' ? 'joined' : 'shared';
}

export interface MembershipWatch {
  stop(): void;
}

/**
 * Calls `onChange` for another user's membership leaving the room's encryption targets (leave,
 * kick, ban: `left`) or entering it (`joined`). The broadcaster's own user is not watched: its
 * other devices are the broadcaster's.
 */
export function watchMembership(
  session: MatrixSession,
  roomId: string,
  onChange: (change: 'left' | 'joined', userId: string) => void,
): MembershipWatch {
  const { client } = session;
  const onMember = (_e: MatrixEvent, m: RoomMember, old?: string): void => {
    if (m.roomId !== roomId || m.userId === session.userId || m.membership === old) return;
    const wasIn = old === 'join' || old === 'invite';
    if (wasIn && (m.membership === 'leave' || m.membership === 'ban')) onChange('left', m.userId);
    else if (m.membership === 'join' && old !== 'join') onChange('joined', m.userId);
  };
  client.on(RoomMemberEvent.Membership, onMember);
  return { stop: () => client.off(RoomMemberEvent.Membership, onMember) };
}

/**
 * `mxcast rekey`: asks the running capture of the broadcast to start a new epoch. Sent from any
 * device of the broadcaster's user (the capture ignores anyone else's), encrypted, related to
 * the announcement.
 */
export async function sendRekeyRequest(
  session: MatrixSession,
  b: Pick<Broadcast, 'roomId' | 'announcementEventId' | 'broadcastId'>,
): Promise<string> {
  return sendBroadcastEvent(
    session,
    b as Broadcast,
    BROADCAST_REKEY_TYPE,
    rekeyRequestContent(b.broadcastId),
  );
}

/**
 * Calls `onRequest` for each live rekey request for `b` from the broadcaster's own user (any of
 * its devices, docs/matrix.md "Key epochs"); a request from anyone else is ignored, as is one
 * older than the watch (the initial sync's timeline).
 */
export function watchRekeyRequests(
  session: MatrixSession,
  b: Broadcast,
  onRequest: (eventId: string) => void,
): MembershipWatch {
  const { client } = session;
  const since = Date.now() - 5_000;
  const seen = new Set<string>();
  const check = (ev: MatrixEvent): void => {
    if (ev.getRoomId() !== b.roomId || ev.getType() !== BROADCAST_REKEY_TYPE) return;
    if (ev.getSender() !== session.userId || ev.getTs() < since) return;
    const id = ev.getId();
    if (!id || seen.has(id)) return;
    try {
      if (parseRekeyRequest(ev.getContent()).broadcastId !== b.broadcastId) return;
    } catch {
      return;
    }
    seen.add(id);
    onRequest(id);
  };
  const stopWatch = watchLiveRoomEvents(client, check);
  return {
    stop: stopWatch,
  };
}

/**
 * The listener's side of key epochs (docs/matrix.md "Key epochs"): the epochs this device can
 * read from the broadcaster's epoch events (m.reference relations of the announcement), and
 * whether it has lost access — its membership ended, or the broadcaster has sent events in a
 * Megolm session this device was never given (the session rotated past it at a removal).
 */
import { Direction, RoomMemberEvent, type MatrixEvent, type RoomMember } from 'matrix-js-sdk';
import {
  BROADCAST_KEY,
  BROADCAST_REANNOUNCE_TYPE,
  BroadcastEventError,
  parseAnnouncement,
} from './broadcast-events.ts';
import {
  BROADCAST_EPOCH_TYPE,
  EpochSet,
  HEADER_EPOCH_END,
  parseEpoch,
  type KeyEpoch,
} from './epoch-events.ts';
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

export interface RawEvent {
  sender?: string;
  content?: { 'm.relates_to'?: { event_id?: string } };
}

/**
 * The events related to the announcement, oldest first: its m.reference relations, or — when
 * the homeserver refuses those because this member may not see the announcement itself (a
 * newcomer under `joined` history visibility: 403) — the room's messages since this member
 * could see them, those whose clear m.relates_to names the announcement.
 */
export async function* relatedEvents(
  session: MatrixSession,
  roomId: string,
  announcementEventId: string,
): AsyncGenerator<RawEvent> {
  const { client } = session;
  let from: string | undefined;
  try {
    for (let page = 0; page < 1000; page++) {
      const res = await client.fetchRelations(roomId, announcementEventId, 'm.reference', null, {
        dir: Direction.Forward,
        limit: 100,
        ...(from ? { from } : {}),
      });
      yield* res.chunk as RawEvent[];
      if (!res.next_batch) return;
      from = res.next_batch;
    }
    return;
  } catch (err) {
    if (from !== undefined || (err as { httpStatus?: number }).httpStatus !== 403) throw err;
  }
  const found: RawEvent[] = [];
  let token: string | null = null;
  for (let page = 0; page < 100; page++) {
    const res = await client.createMessagesRequest(roomId, token, 100, Direction.Backward);
    for (const raw of res.chunk as RawEvent[]) {
      if (raw.content?.['m.relates_to']?.event_id === announcementEventId) found.push(raw);
    }
    if (!res.end || res.chunk.length === 0) break;
    token = res.end;
  }
  yield* found.reverse();
}

/**
 * The epochs a (re-)announcement gives: its file as epoch 0 unless it is marked `key_epoch` (the
 * `joined` policy's re-share, whose file is that epoch's), plus its `epochs` list.
 */
export function announcementEpochs(content: unknown): KeyEpoch[] {
  const ann = parseAnnouncement(content);
  if (!ann) return [];
  const ours = (content as Record<string, Record<string, unknown>>)[BROADCAST_KEY] ?? {};
  const out: KeyEpoch[] = [];
  if (ours.key_epoch === undefined) {
    out.push({ index: 0, startSeq: 0, key: ann.file.key, iv: ann.file.iv });
  } else if (ours.header_epoch !== undefined) {
    out.push(parseHeaderEpoch(ours.header_epoch));
  }
  const list = ours.epochs ?? [];
  if (!Array.isArray(list)) throw new BroadcastEventError('announcement epochs is not a list');
  for (const w of list as Record<string, unknown>[]) {
    out.push(parseEpoch({ ...w, broadcast_id: ann.broadcastId }).epoch);
  }
  return out;
}

/**
 * A `joined` re-share's `header_epoch` {key, iv, end_seq}: epoch 0's key for the header blocks
 * only (docs/matrix.md "Key epochs"). Validated like an EncryptedFile's key; end_seq must be the
 * header's end (a larger one would claim audio blocks for a key meant for headers).
 */
function parseHeaderEpoch(raw: unknown): KeyEpoch {
  const h = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (h.end_seq !== HEADER_EPOCH_END) {
    throw new BroadcastEventError(`header_epoch end_seq must be ${HEADER_EPOCH_END}`);
  }
  const e = parseEpoch({ broadcast_id: '-', epoch: 1, start_seq: 1, key: h.key, iv: h.iv }).epoch;
  return { index: 0, startSeq: 0, key: e.key, iv: e.iv, endSeq: HEADER_EPOCH_END };
}

/**
 * Reads every epoch this device can decrypt from the broadcaster's events: the announcement
 * (epoch 0), re-announcements (the epochs the history policy lets a newcomer have) and epoch
 * events.
 */
export async function fetchEpochs(
  session: MatrixSession,
  roomId: string,
  announcementEventId: string,
  broadcastId: string,
  sender: string,
): Promise<EpochListing> {
  const { client } = session;
  const out: EpochListing = { epochs: new EpochSet(), undecryptable: [], newestReadableTs: 0 };
  // Under `joined` history a newcomer may not see the announcement at all (the homeserver
  // answers 404 for events before the join): its epochs then come from re-announcements.
  const rawAnn = await client.fetchRoomEvent(roomId, announcementEventId).catch(() => null);
  const ann = rawAnn ? client.getEventMapper()(rawAnn as never) : null;
  if (ann) await client.decryptEventIfNeeded(ann);
  if (ann && !ann.isDecryptionFailure() && ann.getSender() === sender) {
    const got = announcementEpochs(ann.getContent());
    if (parseAnnouncement(ann.getContent())?.broadcastId === broadcastId) {
      for (const e of got) out.epochs.add(e);
    }
  }
  for await (const raw of relatedEvents(session, roomId, announcementEventId)) {
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
    if (ev.getType() === BROADCAST_REANNOUNCE_TYPE) {
      if (parseAnnouncement(ev.getContent())?.broadcastId !== broadcastId) continue;
      for (const e of announcementEpochs(ev.getContent())) out.epochs.add(e);
      continue;
    }
    if (ev.getType() !== BROADCAST_EPOCH_TYPE) continue;
    const parsed = parseEpoch(ev.getContent());
    // An epoch copied from another broadcast of the same sender is not this one's.
    if (parsed.broadcastId === broadcastId) out.epochs.add(parsed.epoch);
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

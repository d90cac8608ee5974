/**
 * The listener's side (docs/matrix.md "Listing broadcasts"): the room's broadcasts from its
 * `org.mxcast.broadcast.state` events, and each one's key from the Megolm-encrypted announcement,
 * or, for a device that joined later, from the newest re-announcement it can decrypt. Only
 * events sent by the state event's sender count: another member cannot slip in a key.
 */
import { Direction, RoomEvent, type MatrixEvent } from 'matrix-js-sdk';
import {
  BROADCAST_REANNOUNCE_TYPE,
  BROADCAST_STATE_TYPE,
  parseAnnouncement,
  parseBroadcastState,
  type BroadcastAnnouncement,
  type BroadcastState,
} from './broadcast-events.ts';
import { relatedEvents } from './epoch-listing.ts';
import type { MatrixSession } from './matrix-session.ts';

export interface BroadcastListing {
  roomId: string;
  broadcastId: string;
  broadcaster: string;
  deviceId: string;
  state: BroadcastState;
  live: boolean;
  startedTs: number;
  /** Until stopped_ts, or until now while live (paused time included). */
  durationMs: number;
  announcementEventId: string;
  /** Null while this device has no key for the announcement. */
  title: string | null;
  announcement: BroadcastAnnouncement | null;
}

/** Decrypts one event; null when this device cannot (no key yet) or it is not a sent event. */
async function decrypted(session: MatrixSession, raw: object): Promise<MatrixEvent | null> {
  const ev = session.client.getEventMapper()(raw as never);
  await session.client.decryptEventIfNeeded(ev);
  return ev.isDecryptionFailure() ? null : ev;
}

/** The announcement's content, or the newest decryptable re-announcement's, from `sender`. */
export async function fetchAnnouncement(
  session: MatrixSession,
  roomId: string,
  announcementEventId: string,
  sender: string,
): Promise<BroadcastAnnouncement | null> {
  const { client } = session;
  // A newcomer under `joined` history visibility may not read the announcement (403/404) nor
  // its relations: the re-announcements it was sent are then found in the room's messages.
  const raw = await client.fetchRoomEvent(roomId, announcementEventId).catch((err: unknown) => {
    if (!hiddenHistory(err)) throw err;
    return null;
  });
  const ann = raw ? await decrypted(session, raw) : null;
  if (ann && ann.getSender() === sender) {
    const parsed = parseAnnouncement(ann.getContent());
    if (parsed) return parsed;
  }
  if (!raw) {
    const found: BroadcastAnnouncement[] = [];
    for await (const r of relatedEvents(session, roomId, announcementEventId)) {
      if (r.sender !== sender) continue;
      const ev = await decrypted(session, r);
      if (!ev || ev.getType() !== BROADCAST_REANNOUNCE_TYPE) continue;
      const parsed = parseAnnouncement(ev.getContent());
      if (parsed) found.push(parsed);
    }
    return found[found.length - 1] ?? null;
  }
  let from: string | undefined;
  // Newest first: the latest re-announcement is the one most likely shared with this device.
  for (let page = 0; page < 20; page++) {
    const res = await client.fetchRelations(roomId, announcementEventId, 'm.reference', null, {
      dir: Direction.Backward,
      limit: 50,
      ...(from ? { from } : {}),
    });
    for (const r of res.chunk) {
      if (r.sender !== sender) continue;
      const ev = await decrypted(session, r);
      if (!ev || ev.getType() !== BROADCAST_REANNOUNCE_TYPE) continue;
      const parsed = parseAnnouncement(ev.getContent());
      if (parsed) return parsed;
    }
    if (!res.next_batch) break;
    from = res.next_batch;
  }
  return null;
}

function hiddenHistory(err: unknown): boolean {
  const status = (err as { httpStatus?: number }).httpStatus;
  return status === 403 || status === 404;
}

/** Every broadcast of the room (live and finished), newest first. */
export async function listBroadcasts(
  session: MatrixSession,
  roomId: string,
): Promise<BroadcastListing[]> {
  const room = session.client.getRoom(roomId);
  if (!room) throw new Error(`not in room ${roomId}`);
  const events = room.currentState.getStateEvents(BROADCAST_STATE_TYPE);
  const out: BroadcastListing[] = [];
  for (const ev of events) {
    const st = parseBroadcastState(ev.getContent());
    const sender = ev.getSender();
    if (!st || !sender) continue;
    const announcement = await fetchAnnouncement(session, roomId, st.announcement_event_id, sender);
    // A key whose broadcast id differs from the state key was copied from another broadcast.
    const ok = announcement?.broadcastId === ev.getStateKey() ? announcement : null;
    const live = st.state !== 'stopped';
    out.push({
      roomId,
      broadcastId: ev.getStateKey() ?? '',
      broadcaster: sender,
      deviceId: st.device_id,
      state: st.state,
      live,
      startedTs: st.started_ts,
      durationMs: Math.max(0, (st.stopped_ts ?? Date.now()) - st.started_ts),
      announcementEventId: st.announcement_event_id,
      title: ok?.title ?? null,
      announcement: ok ?? null,
    });
  }
  return out.sort((a, b) => b.startedTs - a.startedTs);
}

/**
 * Waits until this device can decrypt the broadcast's key: at once when it already can,
 * otherwise after the broadcaster's next re-announcement reaches the room (docs/matrix.md
 * "Key re-share"). Rejects after `timeoutMs`.
 */
export async function waitForBroadcastKey(
  session: MatrixSession,
  roomId: string,
  broadcastId: string,
  timeoutMs = 30_000,
): Promise<BroadcastAnnouncement> {
  const { client } = session;
  const deadline = Date.now() + timeoutMs;
  let wake: (() => void) | undefined;
  const onTimeline = (ev: MatrixEvent): void => {
    if (ev.getRoomId() === roomId) wake?.();
  };
  client.on(RoomEvent.Timeline, onTimeline);
  try {
    for (;;) {
      const found = (await listBroadcasts(session, roomId)).find(
        (b) => b.broadcastId === broadcastId,
      );
      if (found?.announcement) return found.announcement;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          found
            ? `no key for broadcast ${broadcastId} after ${timeoutMs} ms`
            : `no broadcast ${broadcastId} in ${roomId}`,
        );
      }
      // A new event in the room, or a poll every 2 s (a to-device key may come after it).
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 2000));
        wake = () => {
          clearTimeout(t);
          setTimeout(resolve, 200);
        };
      });
      wake = undefined;
    }
  } finally {
    client.off(RoomEvent.Timeline, onTimeline);
  }
}

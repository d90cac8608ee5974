/**
 * Key requests (docs/matrix.md "Key re-share"): a member's device that appears after the
 * broadcast's Megolm sessions were shared (a fresh state dir, a new browser) cannot decrypt the
 * announcement or the epoch events sent before it existed — Megolm only reaches the devices the
 * sender knew when it encrypted. The listener then sends an encrypted
 * `org.mxcast.broadcast.key_request` (related to the announcement); the running capture answers
 * with one re-announcement, which the crypto encrypts for every device it now knows, the new one
 * included. Answered only for a current member (Synapse refuses the event from anyone else
 * anyway), at most once per user per `minIntervalMs` (later requests coalesce into one answer at
 * the window's end), and with what the history policy lets every member have (the re-share's
 * content, epoch-announcer.ts). A request in clear is answered too: the answer goes to every
 * member's devices and carries nothing a member may not have, so who asked changes nothing.
 */
import type { MatrixEvent } from 'matrix-js-sdk';
import { BROADCAST_KEY, type BroadcastAnnouncement } from './broadcast-events.ts';
import { waitForBroadcastKey } from './broadcast-listing.ts';
import { sendBroadcastEvent, type Broadcast } from './broadcast-sender.ts';
import type { MatrixSession } from './matrix-session.ts';
import { watchLiveRoomEvents } from './live-room-events.ts';

export const BROADCAST_KEY_REQUEST_TYPE = `${BROADCAST_KEY}.key_request`;

type BroadcastRef = Pick<Broadcast, 'roomId' | 'announcementEventId' | 'broadcastId'>;

export function keyRequestContent(broadcastId: string): Record<string, unknown> {
  return { broadcast_id: broadcastId };
}

/** The broadcast id of a key request's content, or null when it is not one. */
export function parseKeyRequest(content: unknown): string | null {
  const id =
    typeof content === 'object' && content !== null
      ? (content as { broadcast_id?: unknown }).broadcast_id
      : undefined;
  return typeof id === 'string' && id.length > 0 ? id : null;
}

/** The listener's request: encrypted, so only the room's devices read who asks for what. */
export function sendKeyRequest(session: MatrixSession, b: BroadcastRef): Promise<string> {
  return sendBroadcastEvent(
    session,
    b as Broadcast,
    BROADCAST_KEY_REQUEST_TYPE,
    keyRequestContent(b.broadcastId),
  );
}

export interface KeyRequestWatch {
  /** Requests answered so far (one re-announcement each). */
  readonly answered: number;
  stop(): void;
}

export interface KeyRequestWatchOptions {
  /** Sends the answer (the re-announcement). */
  answer: (userId: string) => Promise<unknown>;
  /** One answer per requesting user per window (default 10 s). */
  minIntervalMs?: number;
  onNotice?: (text: string) => void;
}

/**
 * The capture's side: answers live key requests for `b` from the room's current members. Before
 * answering, every tracked user's device list is marked outdated, so the encryption queries the
 * keys again and shares the session with a device the sync has not told us about (a capture
 * started from a stored crypto store after the device appeared has no device-list change for
 * it: the initial sync carries none).
 */
export function watchKeyRequests(
  session: MatrixSession,
  b: Broadcast,
  options: KeyRequestWatchOptions,
): KeyRequestWatch {
  const { client } = session;
  const minIntervalMs = options.minIntervalMs ?? 10_000;
  const since = Date.now() - 5_000;
  const seen = new Set<string>();
  /** Per user: when the last answer went out, and whether one is already scheduled. */
  const last = new Map<string, number>();
  const scheduled = new Map<string, NodeJS.Timeout>();
  let answered = 0;
  let stopped = false;

  const answer = async (userId: string): Promise<void> => {
    scheduled.delete(userId);
    if (stopped) return;
    if (client.getRoom(b.roomId)?.getMember(userId)?.membership !== 'join') return;
    last.set(userId, Date.now());
    // matrix-js-sdk 37's RustCrypto has it (CryptoBackend, the sync's side of the crypto), not
    // the public CryptoApi type.
    const crypto = client.getCrypto() as { markAllTrackedUsersAsDirty?: () => Promise<void> };
    await crypto?.markAllTrackedUsersAsDirty?.();
    await options.answer(userId);
    answered++;
    options.onNotice?.(`key request from ${userId}: re-announced`);
  };
  const check = (ev: MatrixEvent): void => {
    if (ev.getRoomId() !== b.roomId || ev.getType() !== BROADCAST_KEY_REQUEST_TYPE) return;
    const id = ev.getId();
    const sender = ev.getSender();
    if (!id || !sender || seen.has(id) || ev.getTs() < since) return;
    if (parseKeyRequest(ev.getContent()) !== b.broadcastId) return;
    seen.add(id);
    const member = client.getRoom(b.roomId)?.getMember(sender);
    if (member?.membership !== 'join') {
      options.onNotice?.(`key request from ${sender}, not a member: ignored`);
      return;
    }
    if (scheduled.has(sender)) return;
    const wait = Math.max(0, (last.get(sender) ?? -Infinity) + minIntervalMs - Date.now());
    const t = setTimeout(() => {
      answer(sender).catch((err: unknown) =>
        options.onNotice?.(`key request from ${sender}: ${(err as Error).message}`),
      );
    }, wait);
    t.unref?.();
    scheduled.set(sender, t);
  };
  const stopWatch = watchLiveRoomEvents(client, check);
  return {
    get answered() {
      return answered;
    },
    stop() {
      stopped = true;
      for (const t of scheduled.values()) clearTimeout(t);
      scheduled.clear();
      stopWatch();
    },
  };
}

export interface KeyWaitOptions {
  /** Wait this long for the key by itself before asking (default 2 s). */
  askAfterMs?: number;
  /** Ask again this often while there is no key (default 10 s). */
  askEveryMs?: number;
  onNotice?: (text: string) => void;
}

/**
 * The listener's wait for the key (waitForBroadcastKey), asking the broadcaster for it when it
 * does not come by itself; bounded by `timeoutMs`. The error says whether a request went out.
 */
export async function waitForKeyAsking(
  session: MatrixSession,
  b: BroadcastRef,
  timeoutMs: number,
  options: KeyWaitOptions = {},
): Promise<BroadcastAnnouncement> {
  let asked = 0;
  let failure: string | null = null;
  const ask = (): void => {
    sendKeyRequest(session, b).then(
      () => {
        asked++;
        options.onNotice?.(`no key for broadcast ${b.broadcastId} yet: asked the broadcaster`);
      },
      (err: unknown) => {
        failure = (err as Error).message;
      },
    );
  };
  const first = setTimeout(ask, options.askAfterMs ?? 2_000);
  const again = setInterval(ask, options.askEveryMs ?? 10_000);
  try {
    return await waitForBroadcastKey(session, b.roomId, b.broadcastId, timeoutMs);
  } catch (err) {
    const why = (err as Error).message;
    if (asked > 0)
      throw new Error(
        `${why}: the broadcaster's device did not answer ${asked} key request(s): it may be offline`,
      );
    if (failure) throw new Error(`${why}; the key request could not be sent: ${failure}`);
    throw err;
  } finally {
    clearTimeout(first);
    clearInterval(again);
  }
}

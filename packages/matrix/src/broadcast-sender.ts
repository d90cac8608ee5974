/**
 * The broadcaster's side (docs/matrix.md "Broadcast events", "Key re-share"): announce a
 * broadcast (encrypted m.audio carrying the EncryptedFile, then the state event pointing at it),
 * change its state, send related encrypted events, and re-announce the key whenever a member
 * joins or a member's device list changes, so devices that appear mid-broadcast can decrypt.
 */
import { randomBytes } from 'node:crypto';
import { CryptoEvent } from 'matrix-js-sdk/lib/crypto-api/index.js';
import { EventType, RoomMemberEvent, type MatrixEvent, type RoomMember } from 'matrix-js-sdk';
import type { EncryptedFile } from '@mxcast/format';
import type { DeclaredStreamGeometry } from '@mxcast/protocol';
import {
  announcementContent,
  BROADCAST_REANNOUNCE_TYPE,
  BROADCAST_STATE_TYPE,
  reannouncementContent,
  type BroadcastAnnouncement,
  type BroadcastState,
  type BroadcastStateContent,
} from './broadcast-events.ts';
import { keyBackupError, sendBackedUp } from './key-backup-upload.ts';
import type { MatrixSession } from './matrix-session.ts';

export interface AnnounceOptions {
  roomId: string;
  title: string;
  /** The v3 EncryptedFile with `url` = the stream's mxc. */
  file: EncryptedFile;
  geometry: DeclaredStreamGeometry;
  /**
   * The announcement's Megolm session could not be put in the key backup before it was sent
   * (key-backup-upload.ts); the announcement went out anyway.
   */
  onBackupError?: (err: Error) => void;
}

export interface Broadcast {
  roomId: string;
  broadcastId: string;
  announcementEventId: string;
  announcement: BroadcastAnnouncement;
  state: BroadcastStateContent;
  /**
   * Set by the epoch announcer (epoch-announcer.ts, docs/matrix.md "Key epochs"): what a key
   * re-share sends instead of the announcement's own key (every epoch, or only the newest).
   */
  reshare?: () => Promise<string>;
}

/** Waits until the room is known to the client (after join/create the sync brings it). */
async function requireEncryptedRoom(session: MatrixSession, roomId: string): Promise<void> {
  const crypto = session.client.getCrypto();
  if (!crypto) throw new Error('the session has no crypto');
  // Sending a key into a room without m.room.encryption would send it in clear.
  if (!(await crypto.isEncryptionEnabledInRoom(roomId))) {
    throw new Error(`room ${roomId} is not end-to-end encrypted: refusing to send the key`);
  }
}

/** Sends the encrypted announcement, then the state event `started` pointing at it. */
/**
 * 96 random bits, base64url, never starting with `-`: an id is typed after `--broadcast`, and a
 * leading dash makes an option parser read it as an option (1 id in 64 did).
 */
export function newBroadcastId(): string {
  for (;;) {
    const id = randomBytes(12).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function announceBroadcast(
  session: MatrixSession,
  opts: AnnounceOptions,
): Promise<Broadcast> {
  await requireEncryptedRoom(session, opts.roomId);
  const now = Date.now();
  const announcement: BroadcastAnnouncement = {
    broadcastId: newBroadcastId(),
    title: opts.title,
    file: opts.file,
    geometry: opts.geometry,
    startedTs: now,
  };
  // Its session in the key backup first: a device restoring the backup reads the title and key.
  const sent = await sendBackedUp(session, opts.roomId, () =>
    session.client.sendEvent(
      opts.roomId,
      EventType.RoomMessage,
      announcementContent(announcement) as never,
    ),
  );
  if (sent.backupError) opts.onBackupError?.(keyBackupError('the announcement', sent.backupError));
  const announcementEventId = sent.result.event_id;
  const state: BroadcastStateContent = {
    state: 'started',
    announcement_event_id: announcementEventId,
    device_id: session.deviceId,
    started_ts: now,
    state_ts: now,
  };
  await sendState(session, opts.roomId, announcement.broadcastId, state);
  return {
    roomId: opts.roomId,
    broadcastId: announcement.broadcastId,
    announcementEventId,
    announcement,
    state,
  };
}

async function sendState(
  session: MatrixSession,
  roomId: string,
  broadcastId: string,
  state: BroadcastStateContent,
): Promise<void> {
  await session.client.sendStateEvent(
    roomId,
    BROADCAST_STATE_TYPE as never,
    state as never,
    broadcastId,
  );
}

/** paused, resumed or stopped; `stopped` is final and records stopped_ts. */
export async function setBroadcastState(
  session: MatrixSession,
  b: Broadcast,
  state: BroadcastState,
): Promise<void> {
  if (b.state.state === 'stopped') throw new Error(`broadcast ${b.broadcastId} already stopped`);
  const now = Date.now();
  const next: BroadcastStateContent = { ...b.state, state, state_ts: now };
  if (state === 'stopped') next.stopped_ts = now;
  await sendState(session, b.roomId, b.broadcastId, next);
  b.state = next;
}

/**
 * An encrypted event of `type` related to the announcement (m.reference, kept in clear by the
 * encryption so /relations finds it): checkpoints, completion, re-announcements.
 */
export async function sendBroadcastEvent(
  session: MatrixSession,
  b: Broadcast,
  type: string,
  content: Record<string, unknown>,
): Promise<string> {
  await requireEncryptedRoom(session, b.roomId);
  const body = {
    ...content,
    'm.relates_to': { rel_type: 'm.reference', event_id: b.announcementEventId },
  };
  const r = await session.client.sendEvent(b.roomId, type as never, body as never);
  return r.event_id;
}

/** Sends the key again: Megolm shares the room's session with every device it now knows. */
export async function reannounceBroadcast(session: MatrixSession, b: Broadcast): Promise<string> {
  if (b.reshare) return b.reshare();
  const content = reannouncementContent(b.announcement, b.announcementEventId);
  return sendBroadcastEvent(session, b, BROADCAST_REANNOUNCE_TYPE, content);
}

export interface KeyReshare {
  /** Re-announcements sent so far. */
  readonly count: number;
  stop(): void;
}

/**
 * Re-announces while the broadcast lives, when a member joins the room or a member's devices
 * change (a new listener device uploads its keys: the homeserver puts the user in our sync's
 * device_lists.changed, the crypto queries them and emits DevicesUpdated). Triggers within
 * `debounceMs` make one event.
 */
export function startKeyReshare(
  session: MatrixSession,
  b: Broadcast,
  options: { debounceMs?: number; onError?: (err: unknown) => void } = {},
): KeyReshare {
  const { client } = session;
  const debounceMs = options.debounceMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let count = 0;
  let sending: Promise<unknown> = Promise.resolve();
  const schedule = (): void => {
    if (timer || b.state.state === 'stopped') return;
    timer = setTimeout(() => {
      timer = undefined;
      sending = sending
        .then(() => reannounceBroadcast(session, b))
        .then(() => count++, options.onError ?? (() => {}));
    }, debounceMs);
  };
  const onMember = (_e: MatrixEvent, member: RoomMember | undefined): void => {
    if (member?.roomId === b.roomId && member.membership === 'join') schedule();
  };
  const onDevices = (userIds: string[]): void => {
    const room = client.getRoom(b.roomId);
    if (userIds.some((u) => room?.getMember(u)?.membership === 'join')) schedule();
  };
  client.on(RoomMemberEvent.Membership, onMember);
  client.on(CryptoEvent.DevicesUpdated, onDevices);
  return {
    get count() {
      return count;
    },
    stop() {
      clearTimeout(timer);
      client.off(RoomMemberEvent.Membership, onMember);
      client.off(CryptoEvent.DevicesUpdated, onDevices);
    },
  };
}

/**
 * mxcast's broadcast events (docs/matrix.md "Broadcast events"), under our unstable prefix
 * `org.mxcast.broadcast`: their types, the content builders and the strict parsers. Keys travel
 * only in Megolm-encrypted events (the announcement, its re-announcements); the state event,
 * which Matrix never encrypts, holds no secret: a state, the announcement's event id, times.
 */
import { parseEncryptedFile, type EncryptedFile } from '@mxcast/format';
import type { CancelClaim, CheckpointClaim, CompletionClaim } from './sender-checkpoints.ts';
import {
  GEOMETRY_KEY,
  geometryProblem,
  pickGeometry,
  type DeclaredStreamGeometry,
} from '@mxcast/protocol';

/** Our key inside an announcement's content, and the prefix of every type below. */
export const BROADCAST_KEY = 'org.mxcast.broadcast';
/** State event, state_key = broadcast id. Never encrypted (state events are not): no secrets. */
export const BROADCAST_STATE_TYPE = 'org.mxcast.broadcast.state';
/** Encrypted, relates to the announcement: the same key again, for devices that came later. */
export const BROADCAST_REANNOUNCE_TYPE = 'org.mxcast.broadcast.reannounce';
/** Encrypted, relates to the announcement: the sender's digest of an interval of blocks. */
export const BROADCAST_CHECKPOINT_TYPE = 'org.mxcast.broadcast.checkpoint';
/** Encrypted, relates to the announcement: the stream is complete (final count, last digest). */
export const BROADCAST_COMPLETE_TYPE = 'org.mxcast.broadcast.complete';
/** Encrypted, relates to the announcement: the sender cancelled the broadcast. */
export const BROADCAST_CANCEL_TYPE = 'org.mxcast.broadcast.cancel';
/** The checkpoint construction (sender-checkpoints.ts), named so it can change later. */
export const CHECKPOINT_ALGORITHM = 'org.mxcast.sha256-block-list';
/** MSC3245 voice messages: other clients draw the announcement as a voice message. */
export const MSC3245_VOICE_KEY = 'org.matrix.msc3245.voice';

/** As MSC3888 voice broadcasts had them. */
export const BROADCAST_STATES = ['started', 'paused', 'resumed', 'stopped'] as const;
export type BroadcastState = (typeof BROADCAST_STATES)[number];

/** The content of the state event (`org.mxcast.broadcast.state`, state_key = broadcast id). */
export interface BroadcastStateContent {
  state: BroadcastState;
  /** The Megolm-encrypted announcement (m.room.message, m.audio) carrying the key. */
  announcement_event_id: string;
  /** The broadcasting device: its re-announcements come from there. */
  device_id: string;
  started_ts: number;
  /** When `state` last changed. */
  state_ts: number;
  /** Set once, with state `stopped`. */
  stopped_ts?: number;
}

/** What an announcement (or a re-announcement) carries, decrypted. */
export interface BroadcastAnnouncement {
  broadcastId: string;
  title: string;
  /** The v3 EncryptedFile, its `url` the stream's mxc. */
  file: EncryptedFile;
  geometry: DeclaredStreamGeometry;
  startedTs: number;
}

export class BroadcastEventError extends Error {
  override name = 'BroadcastEventError';
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `m.room.message` content, msgtype m.audio + MSC3245 voice, sent encrypted. */
export function announcementContent(a: BroadcastAnnouncement): Record<string, unknown> {
  if (!a.file.url) throw new BroadcastEventError('the EncryptedFile needs its mxc url');
  return {
    msgtype: 'm.audio',
    body: `Live audio broadcast: ${a.title}`,
    file: a.file,
    info: { mimetype: 'audio/ogg' },
    [MSC3245_VOICE_KEY]: {},
    [GEOMETRY_KEY]: pickGeometry(a.geometry),
    [BROADCAST_KEY]: { id: a.broadcastId, title: a.title, started_ts: a.startedTs },
  };
}

/** The re-announcement: the same fields, a reference to the announcement, no message body. */
export function reannouncementContent(
  a: BroadcastAnnouncement,
  announcementEventId: string,
): Record<string, unknown> {
  const {
    msgtype: _m,
    body: _b,
    info: _i,
    [MSC3245_VOICE_KEY]: _v,
    ...rest
  } = announcementContent(a);
  return { ...rest, 'm.relates_to': { rel_type: 'm.reference', event_id: announcementEventId } };
}

/** Parses a decrypted announcement or re-announcement; null when it is not one of ours. */
export function parseAnnouncement(content: unknown): BroadcastAnnouncement | null {
  if (!isObject(content) || !isObject(content[BROADCAST_KEY])) return null;
  const ours = content[BROADCAST_KEY];
  const { id, title, started_ts: startedTs } = ours;
  if (typeof id !== 'string' || id.length === 0) throw bad('id');
  if (typeof title !== 'string') throw bad('title');
  if (typeof startedTs !== 'number' || !Number.isSafeInteger(startedTs)) throw bad('started_ts');
  const file = parseEncryptedFile(content.file);
  if (!file.url) throw new BroadcastEventError('announcement file has no url');
  const g = content[GEOMETRY_KEY];
  const problem = geometryProblem(g, { complete: false });
  if (problem) throw new BroadcastEventError(`announcement ${problem}`);
  return {
    broadcastId: id,
    title,
    file,
    geometry: pickGeometry(g as DeclaredStreamGeometry),
    startedTs,
  };
}

function bad(field: string): BroadcastEventError {
  return new BroadcastEventError(`announcement field ${BROADCAST_KEY}.${field} missing or invalid`);
}

/** Parses a state event's content; null when it is not a valid one (ignored in listings). */
export function parseBroadcastState(content: unknown): BroadcastStateContent | null {
  if (!isObject(content)) return null;
  const { state, announcement_event_id: ann, device_id: dev } = content;
  const { started_ts: started, state_ts: stateTs, stopped_ts: stopped } = content;
  if (!BROADCAST_STATES.includes(state as BroadcastState)) return null;
  if (typeof ann !== 'string' || !ann.startsWith('$')) return null;
  if (typeof dev !== 'string') return null;
  if (!Number.isSafeInteger(started) || !Number.isSafeInteger(stateTs)) return null;
  if (stopped !== undefined && !Number.isSafeInteger(stopped)) return null;
  const out: BroadcastStateContent = {
    state: state as BroadcastState,
    announcement_event_id: ann,
    device_id: dev,
    started_ts: started as number,
    state_ts: stateTs as number,
  };
  if (stopped !== undefined) out.stopped_ts = stopped as number;
  return out;
}

const B64_SHA256 = /^[A-Za-z0-9+/]{43}$/;

/** Checkpoint content (before encryption; sendBroadcastEvent adds the m.reference). */
export function checkpointContent(c: CheckpointClaim): Record<string, unknown> {
  return {
    algorithm: CHECKPOINT_ALGORITHM,
    from_seq: c.fromSeq,
    block_count: c.blockCount,
    digest: c.digest,
  };
}

/** Completion content: the final interval, plus the whole file's sha256 (MSC4101 `hashes`). */
export function completionContent(c: CompletionClaim): Record<string, unknown> {
  const out = checkpointContent(c);
  if (c.fileSha256 !== undefined) out.hashes = { sha256: c.fileSha256 };
  if (c.size !== undefined) out.size = c.size;
  return out;
}

export function cancelContent(c: CancelClaim): Record<string, unknown> {
  return { block_count: c.blockCount };
}

function claimProblem(content: Record<string, unknown>): string | null {
  const { algorithm, from_seq: from, block_count: count, digest } = content;
  if (algorithm !== CHECKPOINT_ALGORITHM) return 'algorithm';
  if (!Number.isSafeInteger(from) || (from as number) < 0) return 'from_seq';
  if (!Number.isSafeInteger(count) || (count as number) <= (from as number)) return 'block_count';
  if (typeof digest !== 'string' || !B64_SHA256.test(digest)) return 'digest';
  return null;
}

/** Parses a decrypted checkpoint; throws on a bad one (a sender's claim is never guessed at). */
export function parseCheckpoint(content: unknown): CheckpointClaim {
  if (!isObject(content)) throw new BroadcastEventError('checkpoint is not an object');
  const problem = claimProblem(content);
  if (problem) throw new BroadcastEventError(`checkpoint field ${problem} missing or invalid`);
  return {
    fromSeq: content.from_seq as number,
    blockCount: content.block_count as number,
    digest: content.digest as string,
  };
}

export function parseCompletion(content: unknown): CompletionClaim {
  const claim: CompletionClaim = parseCheckpoint(content);
  const c = content as Record<string, unknown>;
  if (c.hashes !== undefined) {
    const sha = isObject(c.hashes) ? c.hashes.sha256 : undefined;
    if (typeof sha !== 'string' || !B64_SHA256.test(sha)) {
      throw new BroadcastEventError('completion field hashes.sha256 invalid');
    }
    claim.fileSha256 = sha;
  }
  if (c.size !== undefined) {
    if (!Number.isSafeInteger(c.size) || (c.size as number) < 0) {
      throw new BroadcastEventError('completion field size invalid');
    }
    claim.size = c.size as number;
  }
  return claim;
}

export function parseCancel(content: unknown): CancelClaim {
  const count = isObject(content) ? content.block_count : undefined;
  if (!Number.isSafeInteger(count) || (count as number) < 0) {
    throw new BroadcastEventError('cancel field block_count missing or invalid');
  }
  return { blockCount: count as number };
}

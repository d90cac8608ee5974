/**
 * @mxcast/matrix/browser: the part of this package that runs in a browser as well as in Node —
 * the broadcast event types, their builders and strict parsers, and the listener's listing and
 * watch, and the capture's room hooks (docs/matrix.md "Broadcast events", "Listing broadcasts",
 * "Checkpoints and completion"). No node:fs, no fake-indexeddb:
 * a browser brings its own MatrixClient (with the Rust crypto on the real IndexedDB) and wraps
 * it as a MatrixSession. The Node session (state directory, IndexedDB snapshots) stays in the
 * package's main entry. One home for each event type and validator: the web app imports these,
 * never a copy.
 */
export type { MatrixSession } from './matrix-session.ts';
export {
  BROADCAST_KEY,
  BROADCAST_STATE_TYPE,
  BROADCAST_REANNOUNCE_TYPE,
  BROADCAST_CHECKPOINT_TYPE,
  BROADCAST_COMPLETE_TYPE,
  BROADCAST_CANCEL_TYPE,
  BROADCAST_STATES,
  BroadcastEventError,
  parseAnnouncement,
  parseBroadcastState,
  parseCheckpoint,
  parseCompletion,
  parseCancel,
  type BroadcastAnnouncement,
  type BroadcastState,
  type BroadcastStateContent,
} from './broadcast-events.ts';
export {
  listBroadcasts,
  fetchAnnouncement,
  waitForBroadcastKey,
  type BroadcastListing,
} from './broadcast-listing.ts';
export { watchBroadcasts, type BroadcastWatch } from './broadcast-watch.ts';
// Key requests from a member's device that appeared after the keys went out (docs/matrix.md
// "Key re-share").
export {
  BROADCAST_KEY_REQUEST_TYPE,
  sendKeyRequest,
  waitForKeyAsking,
  watchKeyRequests,
  type KeyRequestWatch,
  type KeyWaitOptions,
} from './key-request.ts';
// The listener's key epochs from the room (docs/matrix.md "Key epochs"): the web app's room
// listen feeds them to its player, as `mxcast listen --room` does.
export { feedEpochKeys, type EpochKeyFeed } from './epoch-key-feed.ts';
// The broadcaster's side: announcement, state, checkpoints, completion or cancel, key re-share.
// Its hashing imports node:crypto's createHash/randomBytes; the web app's build resolves that
// to a browser implementation (apps/web/vite.config.ts), so the reporter itself is the CLI's.
export { roomCapture, type RoomCapture, type RoomCaptureOptions } from './room-capture.ts';
// The broadcaster's key epochs (docs/matrix.md "Key epochs"): the epoch events, the room's
// reasons to rekey (leave, kick, a `joined` join, `mxcast rekey`) and the answers to key
// requests, the same hooks as `mxcast capture --room`.
export { roomEpochs, type RoomEpochs, type RoomEpochsOptions } from './room-epochs.ts';
export type { EpochAnnouncer } from './epoch-announcer.ts';
export type { EpochReason } from './epoch-events.ts';
// The listener's check of the sender's claims (the CLI's `listen --room` uses the same).
export {
  CheckpointVerifier,
  CheckpointMismatch,
  type CheckpointClaim,
  type CompletionClaim,
  type CancelClaim,
  type StreamOutcome,
} from './sender-checkpoints.ts';
export { fetchSenderClaims, type SenderClaims } from './broadcast-claims.ts';
// The broadcaster's resume state in the account data's secret storage (docs/matrix.md "Resume
// from any device"): the web page writes and reads the same secret as `mxcast capture`.
export {
  CAPTURE_STATE_PREFIX,
  RecoveryError,
  openResumeBackup,
  findResumable,
  type ResumeBackup,
  type ResumableBroadcast,
  type StoredCapture,
} from './resume-backup.ts';

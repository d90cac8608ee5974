/**
 * @mxcast/matrix: the Node Matrix client of mxcast (docs/matrix.md) — a session with an
 * end-to-end encrypted device kept across runs, and the broadcast events over matrix-js-sdk.
 */
export {
  openMatrixSession,
  type MatrixAuth,
  type MatrixSession,
  type MatrixSessionOptions,
} from './matrix-session.ts';
export { loadIdbSnapshot, saveIdbSnapshot } from './idb-snapshot.ts';
export { resolveRoomId } from './room-address.ts';
export {
  BROADCAST_KEY,
  BROADCAST_STATE_TYPE,
  BROADCAST_REANNOUNCE_TYPE,
  BROADCAST_CHECKPOINT_TYPE,
  BROADCAST_COMPLETE_TYPE,
  BROADCAST_CANCEL_TYPE,
  CHECKPOINT_ALGORITHM,
  BROADCAST_STATES,
  MSC3245_VOICE_KEY,
  BroadcastEventError,
  announcementContent,
  reannouncementContent,
  parseAnnouncement,
  parseBroadcastState,
  checkpointContent,
  completionContent,
  cancelContent,
  parseCheckpoint,
  parseCompletion,
  parseCancel,
  type BroadcastAnnouncement,
  type BroadcastState,
  type BroadcastStateContent,
} from './broadcast-events.ts';
export {
  announceBroadcast,
  setBroadcastState,
  sendBroadcastEvent,
  reannounceBroadcast,
  startKeyReshare,
  type AnnounceOptions,
  type Broadcast,
  type KeyReshare,
} from './broadcast-sender.ts';
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
export {
  CheckpointRecorder,
  CheckpointVerifier,
  CheckpointMismatch,
  type CheckpointClaim,
  type CompletionClaim,
  type CancelClaim,
  type StreamOutcome,
} from './sender-checkpoints.ts';
export {
  LiveBroadcastReporter,
  fetchSenderClaims,
  type ReporterOptions,
  type SenderClaims,
} from './broadcast-claims.ts';
export { roomCapture, type RoomCapture, type RoomCaptureOptions } from './room-capture.ts';
export {
  BROADCAST_EPOCH_TYPE,
  BROADCAST_REKEY_TYPE,
  EPOCH_REASONS,
  EpochSet,
  epochContent,
  parseEpoch,
  rekeyRequestContent,
  parseRekeyRequest,
  type EpochReason,
  type KeyEpoch,
} from './epoch-events.ts';
export {
  sendEpoch,
  historyPolicyOf,
  watchMembership,
  sendRekeyRequest,
  watchRekeyRequests,
  type HistoryPolicy,
  type MembershipWatch,
} from './epoch-sender.ts';
export {
  fetchEpochs,
  announcementEpochs,
  lostAccess,
  watchOwnMembership,
  type AccessWatch,
  type EpochListing,
} from './epoch-listing.ts';
export {
  EpochAnnouncer,
  epochReannouncementContent,
  type CaptureEpoch,
  type EpochAnnouncerOptions,
} from './epoch-announcer.ts';
export { roomEpochs, type RoomEpochs, type RoomEpochsOptions } from './room-epochs.ts';
export {
  feedEpochKeys,
  type EpochKeyFeed,
  type EpochSink,
  type FeedTarget,
} from './epoch-key-feed.ts';
export {
  CAPTURE_STATE_PREFIX,
  RecoveryError,
  openResumeBackup,
  restoreKeyBackup,
  findResumable,
  type ResumeBackup,
  type ResumableBroadcast,
  type StoredCapture,
  type OpenResumeBackupOptions,
} from './resume-backup.ts';
export { flushKeyBackup } from './key-backup-upload.ts';

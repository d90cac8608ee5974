/**
 * `mxcast listen --homeserver --room`: the room's side of a listen (docs/matrix.md "From nothing
 * to a live broadcast in a room"). Lists the room's broadcasts, picks one, takes its key from the
 * decrypted announcement, and once the player is done checks what the relay served against the
 * sender's checkpoints and completion (CheckpointVerifier).
 *
 * Why after the fact: the player's `block` event carries the seq of each authenticated block but
 * not its ciphertext, which is what the sender's checkpoints hash; so the relay's stored stream is
 * downloaded once more (it is what the player read) and every block is authenticated with AES-GCM
 * and fed to the verifier. A relay that served the player one stream and this download another
 * would not be caught; a player that exposes its blocks' bytes would let this move inline.
 */
import { MediaClient } from '@mxcast/client';
import { BlockFramer, FormatError, createBlockCipher, type EncryptedFile } from '@mxcast/format';
import type { BroadcastAnnouncement, BroadcastListing, StreamOutcome } from '@mxcast/matrix';
import { CliError } from '../command-kit.ts';
import type { OpenedRoom } from './matrix-login.ts';

/** One line per broadcast, newest first: id, state, start, duration, broadcaster, title. */
export async function listRoom(opened: OpenedRoom): Promise<string[]> {
  const listed = await opened.matrix.listBroadcasts(opened.session, opened.roomId);
  return listed.map((b) =>
    [
      b.broadcastId,
      b.state,
      new Date(b.startedTs).toISOString().replace(/\.\d+Z$/, 'Z'),
      `${(b.durationMs / 1000).toFixed(0)}s`,
      b.broadcaster,
      b.title ?? '(no key on this device yet)',
    ].join('\t'),
  );
}

export interface RoomTarget {
  listing: BroadcastListing;
  mxc: string;
  file: EncryptedFile;
  geometry: BroadcastAnnouncement['geometry'];
}

/** The chosen broadcast (by id; else the newest live; else the newest) and its key. */
export async function chooseBroadcast(
  opened: OpenedRoom,
  broadcastId: string | undefined,
  keyTimeoutMs: number,
): Promise<RoomTarget> {
  const { matrix, session, roomId } = opened;
  const listed = await matrix.listBroadcasts(session, roomId);
  const listing = broadcastId
    ? listed.find((b) => b.broadcastId === broadcastId)
    : (listed.find((b) => b.live) ?? listed[0]);
  if (!listing) {
    throw new CliError(
      broadcastId ? `no broadcast ${broadcastId} in ${roomId}` : `no broadcast in ${roomId}`,
      5,
    );
  }
  let ann;
  try {
    ann = await matrix.waitForBroadcastKey(session, roomId, listing.broadcastId, keyTimeoutMs);
  } catch (err) {
    throw new CliError(`no key for broadcast ${listing.broadcastId}: ${(err as Error).message}`, 4);
  }
  const mxc = ann.file.url;
  if (typeof mxc !== 'string') throw new CliError('the announcement has no mxc URL', 4);
  return { listing, mxc, file: ann.file, geometry: ann.geometry };
}

export type Verdict =
  | { outcome: StreamOutcome; blocks: number; verified: number; unverifiable: number }
  | { outcome: 'TAMPERED'; message: string; blocks: number };

/**
 * The sender's claims against the stream the relay holds. The sender sends its completion just
 * after its upload ends, so it is waited for up to `claimWaitMs`.
 */
export async function verifyAgainstSender(
  opened: OpenedRoom,
  target: RoomTarget,
  relayUrl: string,
  accessToken: string,
  claimWaitMs = 10_000,
): Promise<Verdict> {
  const { matrix, session, roomId } = opened;
  const { listing } = target;
  const fetchClaims = () =>
    matrix.fetchSenderClaims(session, roomId, listing.announcementEventId, listing.broadcaster);
  let claims = await fetchClaims();
  for (
    let waited = 0;
    waited < claimWaitMs && !claims.completion && !claims.cancel;
    waited += 500
  ) {
    await new Promise((r) => setTimeout(r, 500));
    claims = await fetchClaims();
  }
  const client = new MediaClient({ baseUrl: relayUrl, accessToken });
  let index = await client.index(target.mxc).catch(() => null);
  let bytes = new Uint8Array(0);
  // A cancelled media is gone from the relay: only the claims are left to read.
  if (index && index.state !== 'cancelled') {
    bytes = new Uint8Array(await (await client.download(target.mxc)).arrayBuffer());
    index = await client.index(target.mxc).catch(() => index);
  }
  const relayState =
    index?.state === 'complete' || index?.state === 'cancelled' ? index.state : 'unknown';
  const verifier = new matrix.CheckpointVerifier();
  let blocks = 0;
  try {
    claims.checkpoints.forEach((c) => verifier.addCheckpoint(c));
    if (claims.completion) verifier.setCompletion(claims.completion);
    if (claims.cancel) verifier.setCancel(claims.cancel);
    const cipher = await createBlockCipher(target.file);
    for (const b of new BlockFramer().push(bytes)) {
      // Only a block that passed AES-GCM reaches the verifier (a bad tag is the relay's doing).
      await cipher.decrypt(b.seq, b.ciphertext, b.byteOrder);
      if (b.seq !== blocks) throw new matrix.CheckpointMismatch(`seq ${b.seq} out of order`, b.seq);
      verifier.onBlock(b.seq, b.ciphertext);
      blocks++;
    }
    return {
      outcome: verifier.outcome(relayState),
      blocks,
      verified: verifier.verified,
      unverifiable: verifier.unverifiable,
    };
  } catch (err) {
    if (err instanceof matrix.CheckpointMismatch) {
      return { outcome: 'TAMPERED', message: err.message, blocks };
    }
    // AES-GCM refused a block or the framing broke: the relay's stream is not the sender's.
    if (err instanceof FormatError) return { outcome: 'TAMPERED', message: err.message, blocks };
    throw err;
  }
}

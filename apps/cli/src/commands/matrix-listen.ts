/**
 * `mxcast listen --homeserver --room`: the room's side of a listen (docs/matrix.md "From nothing
 * to a live broadcast in a room"). Lists the room's broadcasts, picks one, takes its key from the
 * decrypted announcement, and checks what the player reads against the sender's checkpoints and
 * completion while it plays (SenderCheck).
 *
 * Inline, block by block: the player's `digest` event gives the seq and SHA-256 of every block
 * that passed AES-GCM, which is all the CheckpointVerifier needs (no block bytes are kept), and
 * the sender's claims are read from the room as they arrive (live, a checkpoint comes after its
 * blocks). A mismatch stops the player at once with TAMPERED, at the checkpoint that covers the
 * forged block rather than at the end of the broadcast.
 */
import { MediaClient } from '@mxcast/client';
import type { EncryptedFile } from '@mxcast/format';
import type {
  BroadcastAnnouncement,
  BroadcastListing,
  CheckpointVerifier,
  SenderClaims,
  StreamOutcome,
} from '@mxcast/matrix';
import { PlayerError, type Player } from '@mxcast/player';
import { roomExit } from './listen-exit.ts';
import type { OpenedRoom } from './matrix-login.ts';

/** The room's broadcasts, or the exit for a device that is not in the room. */
function listed(opened: OpenedRoom): Promise<BroadcastListing[]> {
  const { matrix, session, roomId } = opened;
  if (session.client.getRoom(roomId)?.getMyMembership() !== 'join')
    return Promise.reject(roomExit('notMember', { room: roomId }));
  return matrix.listBroadcasts(session, roomId);
}

/** One line per broadcast, newest first: id, state, start, duration, broadcaster, title. */
export async function listRoom(opened: OpenedRoom): Promise<string[]> {
  const listed_ = await listed(opened);
  return listed_.map((b) =>
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
  const all = await listed(opened);
  const listing = broadcastId
    ? all.find((b) => b.broadcastId === broadcastId)
    : (all.find((b) => b.live) ?? all[0]);
  if (!listing) {
    throw broadcastId
      ? roomExit('noSuchBroadcast', { id: broadcastId, room: roomId })
      : roomExit('noBroadcast', { room: roomId });
  }
  let ann;
  try {
    // A device that appeared after the key went out asks the running capture for it
    // (docs/matrix.md "Key re-share"); the notice goes to stderr, as the others.
    ann = await matrix.waitForKeyAsking(session, listing, keyTimeoutMs, {
      onNotice: (text) => process.stderr.write(`matrix: ${text}\n`),
    });
  } catch (err) {
    throw roomExit('noKey', { id: listing.broadcastId, reason: (err as Error).message });
  }
  const mxc = ann.file.url;
  if (typeof mxc !== 'string') throw roomExit('noMxc');
  // A listing made before the key came (a key request) has no title yet: the announcement's.
  return { listing: { ...listing, title: ann.title }, mxc, file: ann.file, geometry: ann.geometry };
}

export type Verdict =
  | { outcome: StreamOutcome; blocks: number; verified: number; unverifiable: number }
  | { outcome: 'TAMPERED'; message: string; blocks: number };

/** How often the room is asked for new claims while playing. */
const CLAIM_POLL_MS = 1000;

/**
 * The sender's claims against the blocks the player authenticates, while it plays. `attach()`
 * feeds the verifier from the player and polls the room for claims; `finish()` waits for the
 * sender's last word (completion or cancel, sent just after its upload ends) and gives the
 * verdict against the relay's end state.
 */
export class SenderCheck {
  readonly #opened: OpenedRoom;
  readonly #target: RoomTarget;
  readonly #relayUrl: string;
  readonly #token: string;
  readonly #verifier: CheckpointVerifier;
  readonly #seenEvents = new Set<string>();
  #completion = false;
  #cancel = false;
  #blocks = 0;
  #tampered: string | undefined;
  #player: Player | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** One claim fetch at a time: the verifier takes them in the room's order. */
  #polling: Promise<void> = Promise.resolve();

  constructor(opened: OpenedRoom, target: RoomTarget, relayUrl: string, token: string) {
    this.#opened = opened;
    this.#target = target;
    this.#relayUrl = relayUrl;
    this.#token = token;
    this.#verifier = new opened.matrix.CheckpointVerifier();
  }

  /** Seq and digest of every authenticated block go to the verifier; claims are read meanwhile. */
  attach(player: Player): void {
    this.#player = player;
    // A `joined` newcomer's live join skips the blocks withheld from it (none of them is read,
    // so none is checked): said, since it waits for its first block (docs/matrix.md "Key epochs").
    player.on('liveStartMoved', ({ edge, seq }) =>
      process.stderr.write(
        `listen: live from block ${seq}, the first under a key this device holds (the live edge is at block ${edge}): waiting for it\n`,
      ),
    );
    player.on('digest', ({ seq, sha256 }) => {
      this.#blocks++;
      this.#guard(() => this.#verifier.onBlockDigest(seq, sha256));
    });
    this.#poll();
    this.#timer = setInterval(() => this.#poll(), CLAIM_POLL_MS);
    this.#timer.unref();
  }

  /** The mismatch that stopped the player, if any. */
  get tampered(): string | undefined {
    return this.#tampered;
  }

  #poll(): Promise<void> {
    this.#polling = this.#polling.then(async () => {
      if (this.#tampered) return;
      const { matrix, session, roomId } = this.#opened;
      const { listing } = this.#target;
      let claims: SenderClaims;
      try {
        claims = await matrix.fetchSenderClaims(
          session,
          roomId,
          listing.announcementEventId,
          listing.broadcaster,
          this.#seenEvents,
        );
      } catch {
        // The homeserver did not answer this time: asked again at the next poll.
        return;
      }
      this.#guard(() => {
        claims.checkpoints.forEach((c) => this.#verifier.addCheckpoint(c));
        if (claims.completion) {
          this.#completion = true;
          this.#verifier.setCompletion(claims.completion);
        }
        if (claims.cancel) {
          this.#cancel = true;
          this.#verifier.setCancel(claims.cancel);
        }
      });
    });
    return this.#polling;
  }

  /** Runs a verifier step; a mismatch stops the player with TAMPERED (fatal, exit 4). */
  #guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      if (!(err instanceof this.#opened.matrix.CheckpointMismatch)) throw err;
      this.#tampered ??= err.message;
      this.#player?.fail(
        new PlayerError('TAMPERED', `the sender's claims do not hold: ${err.message}`, {
          fatal: true,
          seq: err.seq,
        }),
      );
    }
  }

  /** After the play: the sender's last word (waited for up to `claimWaitMs`) against the relay's. */
  async finish(claimWaitMs = 10_000): Promise<Verdict> {
    clearInterval(this.#timer);
    await this.#poll();
    for (
      let waited = 0;
      waited < claimWaitMs && !this.#completion && !this.#cancel && !this.#tampered;
      waited += 500
    ) {
      await new Promise((r) => setTimeout(r, 500));
      await this.#poll();
    }
    if (this.#tampered)
      return { outcome: 'TAMPERED', message: this.#tampered, blocks: this.#blocks };
    const client = new MediaClient({ baseUrl: this.#relayUrl, accessToken: this.#token });
    const index = await client.index(this.#target.mxc).catch(() => null);
    const relayState =
      index?.state === 'complete' || index?.state === 'cancelled' ? index.state : 'unknown';
    return {
      outcome: this.#verifier.outcome(relayState),
      blocks: this.#blocks,
      verified: this.#verifier.verified,
      unverifiable: this.#verifier.unverifiable,
    };
  }
}

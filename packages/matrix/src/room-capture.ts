/**
 * The capture's Matrix side in one place (docs/matrix.md "Checkpoints and completion"): hooks
 * shaped like CaptureSession's (`onCreated`, `onWrite`, `onConnection`; @mxcast/capture is not a
 * dependency of this package, the shapes are structural) that announce the broadcast in the
 * room, report what was written, pause and resume it, and end it with a completion or a cancel.
 * `mxcast capture --homeserver --room` is these hooks plus argument parsing.
 */
import type { EncryptedFile } from '@mxcast/format';
import type { DeclaredStreamGeometry } from '@mxcast/protocol';
import { LiveBroadcastReporter } from './broadcast-claims.ts';
import type { Broadcast } from './broadcast-sender.ts';
import type { MatrixSession } from './matrix-session.ts';
import type { CompletionClaim } from './sender-checkpoints.ts';

export interface RoomCaptureOptions {
  roomId: string;
  /** Seconds between checkpoints (default 30). */
  checkpointEverySeconds?: number;
  /** Status-line text: paused, resumed, a Matrix send that failed. */
  onNotice?: (text: string) => void;
  /**
   * Continue this broadcast (announced by an earlier run, maybe on another device: `capture
   * --resume`) instead of announcing a new one: its state goes `resumed`.
   */
  resume?: Broadcast;
}

export interface RoomCapture {
  onCreated(info: {
    file: EncryptedFile;
    geometry: DeclaredStreamGeometry;
    title: string;
  }): Promise<void>;
  onWrite(seq: number, bytes: Uint8Array): void;
  onConnection(state: 'lost' | 'back'): void;
  /** The reporter, once onCreated announced the broadcast. */
  readonly reporter: LiveBroadcastReporter | null;
  /** Blocks written so far (the next seq). */
  readonly blocks: number;
  /** The capture finished: completion event, state stopped. */
  complete(): Promise<CompletionClaim>;
  /** The capture was cancelled: cancel event, state stopped. */
  cancel(): Promise<void>;
  /** The capture failed (not a cancel): last checkpoint, state paused, so it can be resumed. */
  interrupt(): Promise<void>;
}

export function roomCapture(session: MatrixSession, options: RoomCaptureOptions): RoomCapture {
  let reporter: LiveBroadcastReporter | null = null;
  let blocks = 0;
  const notice = options.onNotice ?? (() => {});
  const need = (): LiveBroadcastReporter => {
    if (!reporter) throw new Error('the broadcast was never announced');
    return reporter;
  };
  return {
    async onCreated(info) {
      if (options.resume) {
        reporter = await LiveBroadcastReporter.attach(session, options.resume, {
          ...(options.checkpointEverySeconds !== undefined
            ? { checkpointEverySeconds: options.checkpointEverySeconds }
            : {}),
          onError: (err) => notice(`matrix: ${(err as Error).message}`),
        });
        notice(`resumed broadcast ${reporter.broadcast.broadcastId} in ${options.roomId}`);
        return;
      }
      reporter = await LiveBroadcastReporter.start(session, {
        roomId: options.roomId,
        title: info.title,
        file: info.file,
        geometry: info.geometry,
        ...(options.checkpointEverySeconds !== undefined
          ? { checkpointEverySeconds: options.checkpointEverySeconds }
          : {}),
        onError: (err) => notice(`matrix: ${(err as Error).message}`),
      });
      notice(`announced in ${options.roomId} as broadcast ${reporter.broadcast.broadcastId}`);
    },
    onWrite(seq, bytes) {
      reporter?.onWrite(seq, bytes);
      if (seq >= 0) blocks = seq + 1;
    },
    onConnection(state) {
      if (!reporter) return;
      // Sent when the homeserver can be reached; the reporter's queue keeps them in order.
      notice(state === 'lost' ? 'relay lost: paused in the room' : 'relay back: resumed');
      void (state === 'lost' ? reporter.pause() : reporter.resume());
    },
    get reporter() {
      return reporter;
    },
    get blocks() {
      return blocks;
    },
    complete: () => need().complete(),
    cancel: () => need().cancel(blocks),
    interrupt: () => need().interrupt(),
  };
}

/**
 * The capture's key epochs in the room (docs/matrix.md "Key epochs"): beside roomCapture's
 * hooks, the capture's `onEpoch` sends each epoch in an encrypted epoch event (EpochAnnouncer),
 * and the room's reasons for a new epoch (a member left or was kicked, a join under `joined`
 * history, `mxcast rekey`) call the capture's `rekey()`. `mxcast capture --homeserver` is these
 * hooks plus `--history`.
 */
import { EpochAnnouncer, type CaptureEpoch } from './epoch-announcer.ts';
import type { KeyEpoch } from './epoch-events.ts';
import { historyPolicyOf, type HistoryPolicy } from './epoch-sender.ts';
import type { MatrixSession } from './matrix-session.ts';
import type { RoomCapture } from './room-capture.ts';

export interface RoomEpochsOptions {
  /** `--history`; default from the room's m.room.history_visibility (historyPolicyOf). */
  history?: HistoryPolicy;
  /** A leave, kick or ban starts an epoch (default true). */
  rekeyOnLeave?: boolean;
  onNotice?: (text: string) => void;
  /** A resumed broadcast's epochs from its stored state (index 1 on; EpochAnnouncer `known`). */
  known?: readonly KeyEpoch[];
}

export interface RoomEpochs {
  /** After roomCapture's onCreated: starts watching the room for reasons to rekey. */
  start(): void;
  /** The capture's rekey() (set once the CaptureSession exists). */
  setRekey(rekey: () => Promise<unknown>): void;
  /** The capture's onEpoch: resolves once the epoch event is in the room. */
  onEpoch(epoch: CaptureEpoch): Promise<void>;
  readonly announcer: EpochAnnouncer | null;
  stop(): void;
}

export function roomEpochs(
  session: MatrixSession,
  room: RoomCapture,
  options: RoomEpochsOptions = {},
): RoomEpochs {
  let announcer: EpochAnnouncer | null = null;
  let rekey: (() => Promise<unknown>) | null = null;
  const notice = options.onNotice ?? (() => {});
  return {
    start() {
      const b = room.reporter?.broadcast;
      if (!b) throw new Error('the broadcast was never announced');
      const policy = options.history ?? historyPolicyOf(session.client.getRoom(b.roomId));
      announcer = new EpochAnnouncer(session, b, {
        policy,
        ...(options.rekeyOnLeave !== undefined ? { rekeyOnLeave: options.rekeyOnLeave } : {}),
        ...(options.known ? { known: options.known } : {}),
        rekey: () => {
          if (!rekey) throw new Error('no capture to rekey');
          return rekey();
        },
        onNotice: notice,
        onError: (err) => notice(`matrix: rekey: ${(err as Error).message}`),
      });
      notice(`history policy: ${policy}`);
    },
    setRekey(fn) {
      rekey = fn;
    },
    async onEpoch(epoch) {
      // An epoch the room is not told about would cut every member off at its startSeq.
      if (!announcer) throw new Error('a key epoch before the broadcast was announced');
      await announcer.announce(epoch);
    },
    get announcer() {
      return announcer;
    },
    stop() {
      announcer?.stop();
    },
  };
}

/**
 * A room listen's key epochs (docs/matrix.md "Key epochs"): @mxcast/player's ringFromFeed over
 * this session's feedEpochKeys, the same builder as the CLI's (apps/cli/src/commands/
 * matrix-epoch-keys.ts). When bob's membership ends or an event of the broadcaster stays
 * undecryptable, the ring reports lost access and the player stops with NO_ACCESS — the page
 * says "You no longer have access to this broadcast"; a `joined` newcomer's live listen starts
 * at its first held epoch (packages/player/src/live-key-start.ts).
 */
import { feedEpochKeys, type EpochKeyFeed } from '@mxcast/matrix/browser';
import { ringFromFeed, type RingFromFeed } from '@mxcast/player';
import type { WebMatrixSession } from './matrix-web-session.ts';

export type WebRoomKeys = RingFromFeed<EpochKeyFeed>;

export interface EpochTarget {
  roomId: string;
  announcementEventId: string;
  broadcastId: string;
  broadcaster: string;
}

export function webRoomEpochKeys(
  session: WebMatrixSession,
  target: EpochTarget,
  onNotice: (text: string) => void,
): Promise<WebRoomKeys> {
  return ringFromFeed(
    (sink) =>
      feedEpochKeys(session, target, sink, {
        onError: (err) => onNotice(`key epochs: ${(err as Error).message}`),
      }),
    onNotice,
  );
}

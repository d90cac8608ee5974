/**
 * `mxcast listen --homeserver --room`: the player's key source from the room (docs/matrix.md
 * "Key epochs"): @mxcast/player's ringFromFeed over this session's feedEpochKeys, the same
 * builder as the web app's. When this user's membership ends or an event of the broadcaster
 * stays undecryptable, the ring reports lost access and the player stops with NO_ACCESS ("you no
 * longer have access to this broadcast", exit 8); a `joined` newcomer's live listen starts at its
 * first held epoch (packages/player/src/live-key-start.ts).
 */
import type { EpochKeyFeed } from '@mxcast/matrix';
import { ringFromFeed, type RingFromFeed } from '@mxcast/player';
import type { RoomTarget } from './matrix-listen.ts';
import type { OpenedRoom } from './matrix-login.ts';

export type RoomKeys = RingFromFeed<EpochKeyFeed>;

export function roomEpochKeys(
  opened: OpenedRoom,
  room: RoomTarget,
  onNotice: (text: string) => void,
): Promise<RoomKeys> {
  const { listing } = room;
  const target = {
    roomId: opened.roomId,
    announcementEventId: listing.announcementEventId,
    broadcastId: listing.broadcastId,
    broadcaster: listing.broadcaster,
  };
  return ringFromFeed(
    (sink) =>
      opened.matrix.feedEpochKeys(opened.session, target, sink, {
        onError: (err) => onNotice(`key epochs: ${(err as Error).message}`),
      }),
    onNotice,
  );
}

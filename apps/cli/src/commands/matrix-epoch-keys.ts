/**
 * `mxcast listen --homeserver --room`: the player's key source from the room (docs/matrix.md
 * "Key epochs"). The epochs this device can read now, then each epoch event as it arrives
 * (feedEpochKeys), in an EpochKeyRing the player decrypts with; when this user's membership
 * ends or an event of the broadcaster stays undecryptable, the ring reports lost access and the
 * player stops with NO_ACCESS ("you no longer have access to this broadcast", exit 8).
 */
import { generateEpoch, type Epoch } from '@mxcast/format';
import type { EpochKeyFeed } from '@mxcast/matrix';
import { EpochKeyRing } from '@mxcast/player';
import type { RoomTarget } from './matrix-listen.ts';
import type { OpenedRoom } from './matrix-login.ts';

export interface RoomKeys {
  keys: EpochKeyRing;
  feed: EpochKeyFeed;
}

export async function roomEpochKeys(
  opened: OpenedRoom,
  room: RoomTarget,
  onNotice: (text: string) => void,
): Promise<RoomKeys> {
  const { listing } = room;
  // The feed may deliver while the ring is being made: held until then.
  const early: Epoch[] = [];
  let lost: string | undefined;
  const box: { ring?: EpochKeyRing } = {};
  const feed = await opened.matrix.feedEpochKeys(
    opened.session,
    {
      roomId: opened.roomId,
      announcementEventId: listing.announcementEventId,
      broadcastId: listing.broadcastId,
      broadcaster: listing.broadcaster,
    },
    {
      add: (e) => {
        if (!box.ring) return void early.push(e);
        box.ring.add(e);
        onNotice(`key epoch from block ${e.startSeq}`);
      },
      loseAccess: (reason) => {
        onNotice(`no access: ${reason}`);
        if (box.ring) box.ring.loseAccess(reason);
        else lost ??= reason;
      },
    },
    { onError: (err) => onNotice(`key epochs: ${(err as Error).message}`) },
  );
  const zero = feed.epochs.find((e) => e.index === 0);
  // A newcomer under `joined` history holds no key for epoch 0: a fresh random one stands in,
  // under which nothing before its first epoch opens (the past stays unreadable, as intended).
  const first: Epoch = zero ? { startSeq: 0, key: zero.key, iv: zero.iv } : { ...generateEpoch(0) };
  const ring = new EpochKeyRing([first]);
  box.ring = ring;
  // A header epoch (a `joined` newcomer's re-share): its key opens OpusHead and OpusTags only;
  // the epochs from its end to the newcomer's first are withheld, so a block there says
  // NO_ACCESS, not TAMPERED (docs/matrix.md "Key epochs").
  const end = zero?.endSeq;
  if (end !== undefined && !feed.epochs.some((e) => e.startSeq === end)) {
    ring.withhold(end, 'it was sent before you joined, under the joined history policy');
  }
  for (const e of early) ring.add(e);
  if (lost !== undefined) ring.loseAccess(lost);
  onNotice(`${ring.epochs.length} key epoch(s) held`);
  return { keys: ring, feed };
}

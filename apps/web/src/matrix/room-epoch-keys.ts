/**
 * A room listen's key epochs (docs/matrix.md "Key epochs"), the web twin of the CLI's
 * `roomEpochKeys` (apps/cli/src/commands/matrix-epoch-keys.ts): the epochs this device can read
 * now, then each epoch event as it arrives, in an EpochKeyRing the direct engine's player
 * decrypts with. When bob's membership ends or an event of the broadcaster stays undecryptable,
 * the ring reports lost access and the player stops with NO_ACCESS — the page says "You no
 * longer have access to this broadcast".
 */
import { generateEpoch, type Epoch } from '@mxcast/format';
import { feedEpochKeys, type EpochKeyFeed } from '@mxcast/matrix/browser';
import { EpochKeyRing } from '@mxcast/player';
import type { WebMatrixSession } from './matrix-web-session.ts';

export interface WebRoomKeys {
  keys: EpochKeyRing;
  feed: EpochKeyFeed;
}

export interface EpochTarget {
  roomId: string;
  announcementEventId: string;
  broadcastId: string;
  broadcaster: string;
}

export async function webRoomEpochKeys(
  session: WebMatrixSession,
  target: EpochTarget,
  onNotice: (text: string) => void,
): Promise<WebRoomKeys> {
  // The feed may deliver while the ring is being made: held until then.
  const early: Epoch[] = [];
  let lost: string | undefined;
  const box: { ring?: EpochKeyRing } = {};
  const feed = await feedEpochKeys(
    session,
    target,
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
  // A newcomer under `joined` history holds no key for epoch 0: a random one stands in, under
  // which nothing before its first epoch opens (the past stays unreadable, as intended).
  const first: Epoch = zero ? { startSeq: 0, key: zero.key, iv: zero.iv } : { ...generateEpoch(0) };
  const ring = new EpochKeyRing([first]);
  box.ring = ring;
  // A header epoch (a joined newcomer's re-share) opens OpusHead and OpusTags only; the epochs
  // from its end to the newcomer's first are withheld: NO_ACCESS there, not TAMPERED.
  const end = zero?.endSeq;
  if (end !== undefined && !feed.epochs.some((e) => e.startSeq === end)) {
    ring.withhold(end, 'it was sent before you joined, under the joined history policy');
  }
  for (const e of early) ring.add(e);
  if (lost !== undefined) ring.loseAccess(lost);
  return { keys: ring, feed };
}

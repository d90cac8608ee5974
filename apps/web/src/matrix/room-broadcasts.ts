/**
 * From a room to something the listener page can play (docs/web.md "Matrix"): the room's
 * broadcasts through @mxcast/matrix's listing (the CLI's `mxcast list`/`listen` use the same),
 * and one broadcast's key from its Megolm-decrypted announcement, waiting for a re-announcement
 * when this device joined after the key was sent (docs/matrix.md "Key re-share").
 */
import type { ListenLinkParts } from '@mxcast/client';
import {
  listBroadcasts,
  waitForBroadcastKey,
  waitForKeyAsking,
  type BroadcastAnnouncement,
  type BroadcastListing,
} from '@mxcast/matrix/browser';
import type { WebMatrixSession } from './matrix-web-session.ts';

type DeclaredStreamGeometry = BroadcastAnnouncement['geometry'];
type StreamGeometry = NonNullable<ListenLinkParts['geometry']>;

export function listRoomBroadcasts(
  session: WebMatrixSession,
  roomId: string,
): Promise<BroadcastListing[]> {
  return listBroadcasts(session, roomId);
}

/** The geometry as a listen link carries it: only when the broadcaster declared every field. */
function completeGeometry(g: DeclaredStreamGeometry): StreamGeometry | null {
  const { bitrate, sample_rate, channels } = g;
  if (bitrate === undefined || channels === undefined) return null;
  return { ...g, bitrate, channels, sample_rate: sample_rate ?? 48000 };
}

export interface RoomListenTarget {
  parts: ListenLinkParts;
  title: string;
  broadcaster: string;
  announcementEventId: string;
}

/** The key and stream of `broadcastId`; rejects when this device gets no key in 20 s. */
export async function roomListen(
  session: WebMatrixSession,
  roomId: string,
  broadcastId: string,
): Promise<RoomListenTarget> {
  const listing = (await listBroadcasts(session, roomId)).find(
    (b) => b.broadcastId === broadcastId,
  );
  // A device that appeared after the key went out (a new browser) asks the running capture for
  // it (docs/matrix.md "Key re-share"); the error then says the broadcaster did not answer.
  const ann = listing
    ? await waitForKeyAsking(session, listing, 20_000)
    : await waitForBroadcastKey(session, roomId, broadcastId, 20_000);
  // parseAnnouncement requires the file's url (the stream's mxc); checked again for the types.
  if (!ann.file.url) throw new Error('the announcement carries no stream address');
  return {
    parts: { mxc: ann.file.url, file: ann.file, geometry: completeGeometry(ann.geometry) },
    title: ann.title,
    broadcaster: listing?.broadcaster ?? '',
    announcementEventId: listing?.announcementEventId ?? '',
  };
}

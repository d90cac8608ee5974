/**
 * Following a room's broadcasts as they change (docs/matrix.md "Listing"): every
 * `org.mxcast.broadcast.state` event the sync brings (a new broadcast, paused, resumed,
 * stopped) gives the listener that broadcast's fresh listing, in the order the events came.
 */
import { RoomStateEvent, type MatrixEvent } from 'matrix-js-sdk';
import { BROADCAST_STATE_TYPE, parseBroadcastState } from './broadcast-events.ts';
import { listBroadcasts, type BroadcastListing } from './broadcast-listing.ts';
import type { MatrixSession } from './matrix-session.ts';

export interface BroadcastWatch {
  stop(): void;
}

export function watchBroadcasts(
  session: MatrixSession,
  roomId: string,
  onChange: (b: BroadcastListing) => void,
  onError: (err: unknown) => void = () => {},
): BroadcastWatch {
  const { client } = session;
  // One listing at a time, so callbacks keep the order of the state events.
  let chain: Promise<void> = Promise.resolve();
  const onEvent = (ev: MatrixEvent): void => {
    if (ev.getRoomId() !== roomId || ev.getType() !== BROADCAST_STATE_TYPE) return;
    const id = ev.getStateKey();
    const parsed = parseBroadcastState(ev.getContent());
    if (!parsed) return;
    const { state } = parsed;
    chain = chain
      .then(async () => {
        const found = (await listBroadcasts(session, roomId)).find((b) => b.broadcastId === id);
        // The listing reads the room's current state, which may already be further on: report
        // the state this event set, with the rest of the listing as it is now.
        if (found) onChange({ ...found, state, live: state !== 'stopped' });
      })
      .catch(onError);
  };
  client.on(RoomStateEvent.Events, onEvent);
  return { stop: () => client.off(RoomStateEvent.Events, onEvent) };
}

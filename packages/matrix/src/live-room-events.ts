/**
 * Calls `check` with each live room event as this client can read it: a plain event at once, an
 * encrypted one once decrypted (or when its room key arrives later: matrix-js-sdk emits
 * `MatrixEventEvent.Decrypted` then). Events from back-pagination and the initial sync's history
 * are not live and are skipped. `check` may see an event twice (timeline, then decrypted):
 * callers keep their own set of seen ids. Returns what stops the watch.
 */
import {
  MatrixEventEvent,
  RoomEvent,
  type IRoomTimelineData,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from 'matrix-js-sdk';

export function watchLiveRoomEvents(
  client: MatrixClient,
  check: (ev: MatrixEvent) => void,
): () => void {
  const onTimeline = (
    ev: MatrixEvent,
    _r: Room | undefined,
    toStart: boolean | undefined,
    _removed: boolean,
    data: IRoomTimelineData,
  ): void => {
    if (toStart || !data.liveEvent) return;
    if (ev.isBeingDecrypted() || ev.isEncrypted()) {
      void client.decryptEventIfNeeded(ev).then(
        () => check(ev),
        () => {},
      );
    } else check(ev);
  };
  const onDecrypted = (ev: MatrixEvent): void => check(ev);
  client.on(RoomEvent.Timeline, onTimeline);
  client.on(MatrixEventEvent.Decrypted, onDecrypted);
  return () => {
    client.off(RoomEvent.Timeline, onTimeline);
    client.off(MatrixEventEvent.Decrypted, onDecrypted);
  };
}

/**
 * Listener counts, kept in one place: each media's (MediaRecord, what its index and status
 * messages report and the per-media limit checks) and the relay's totals (MediaStore, /metrics and
 * the relay-wide limit) move together through one join/leave, so they cannot disagree.
 *
 * - `ws`, `http`: listeners of a media over WebSocket and HTTP downloads.
 * - `ack`: a broadcaster's own acknowledgement socket (docs/protocol.md "Listen over WebSocket",
 *   `ack=1`): not a listener of its media, but a WebSocket the relay holds, so the relay's
 *   WebSocket total includes it.
 */
export type ListenerKind = 'ws' | 'http' | 'ack';

export class ListenerTally {
  private readonly n: Record<ListenerKind, number> = { ws: 0, http: 0, ack: 0 };

  /** Listeners of a media (acknowledgement sockets excluded). */
  get listeners(): number {
    return this.n.ws + this.n.http;
  }

  get ws(): number {
    return this.n.ws;
  }

  get http(): number {
    return this.n.http;
  }

  /** WebSocket connections held: listeners and acknowledgement sockets. */
  get sockets(): number {
    return this.n.ws + this.n.ack;
  }

  /**
   * Counts one `kind` here and in `parent` (the relay's totals, when this is a media's), and
   * returns its leave: idempotent, so a close reported twice (ws 'close' and 'error') counts once.
   */
  join(kind: ListenerKind, parent: ListenerTally | null): () => void {
    this.n[kind]++;
    if (parent) parent.n[kind]++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.n[kind]--;
      if (parent) parent.n[kind]--;
    };
  }
}

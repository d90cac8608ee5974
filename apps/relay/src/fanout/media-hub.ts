/**
 * The live fan-out of one media: the set of listeners at the live edge. `publish` hands the
 * same SharedBlock to each in turn; a listener only queues it on its own socket (never awaits),
 * so no listener waits on another, and one past its backlog bound handles that itself
 * (skips to the live edge or disconnects) — see ws-listener.ts and download-pump.ts.
 *
 * A very large fan-out is cut into slices of `sliceSize` listeners, the next slice running on
 * setImmediate: one write costs ~10 µs of CPU, so 10 000 listeners would otherwise hold the event
 * loop ~100 ms per block, starving accepts (joins) and the upload's own reads. Blocks published
 * meanwhile queue behind the current one, so every listener still gets them in order; a listener
 * that joins mid-fan-out is visited too and skips, by seq or offset, the blocks it already has.
 * `end` first finishes any fan-out under way, so no listener loses a block to an end.
 */
import type { SharedBlock } from './shared-block.ts';

export type EndState = 'complete' | 'cancelled';

export interface HubListener {
  onBlock(block: SharedBlock): void;
  onEnd(state: EndState): void;
  /** A status worth telling listeners (state, listener count): the JSON text, shared by all. */
  onStatus?(status: Buffer): void;
}

/** Listeners written per event-loop turn: ~5 ms of writes at ~10 µs each. */
export const DEFAULT_SLICE_SIZE = 512;

export class MediaHub {
  private readonly listeners = new Set<HubListener>();
  /** Blocks whose fan-out has not finished, oldest first; the first is under way. */
  private readonly pending: SharedBlock[] = [];
  /** Where the fan-out of pending[0] stands (a live Set iterator: sees adds and removes). */
  private cursor: Iterator<HubListener> | null = null;
  /** The next listener of that fan-out, already taken from the cursor when it yielded. */
  private ahead: HubListener | null = null;
  private readonly resume = (): void => this.run(this.sliceSize);

  constructor(private readonly sliceSize = DEFAULT_SLICE_SIZE) {}

  get size(): number {
    return this.listeners.size;
  }

  add(listener: HubListener): void {
    this.listeners.add(listener);
  }

  remove(listener: HubListener): boolean {
    return this.listeners.delete(listener);
  }

  publish(block: SharedBlock): void {
    this.pending.push(block);
    // A fan-out under way carries this block on when it gets there.
    if (this.pending.length === 1) this.run(this.sliceSize);
  }

  status(message: Buffer): void {
    for (const l of this.listeners) l.onStatus?.(message);
  }

  end(state: EndState): void {
    this.run(Infinity);
    const all = [...this.listeners];
    this.listeners.clear();
    for (const l of all) l.onEnd(state);
  }

  /** Fans out pending blocks to at most `budget` listeners, then yields to the event loop. */
  private run(budget: number): void {
    let left = budget;
    let block = this.pending[0];
    while (block) {
      const cursor = (this.cursor ??= this.listeners.values());
      // The listener fetched before the last yield, unless it left meanwhile.
      const ahead = this.ahead;
      this.ahead = null;
      let next = ahead && this.listeners.has(ahead) ? ahead : this.following(cursor);
      while (next) {
        if (left-- <= 0) {
          this.ahead = next;
          setImmediate(this.resume);
          return;
        }
        next.onBlock(block);
        next = this.following(cursor);
      }
      this.cursor = null;
      this.pending.shift();
      block = this.pending[0];
    }
  }

  private following(cursor: Iterator<HubListener>): HubListener | null {
    const r = cursor.next();
    return r.done ? null : r.value;
  }
}

/**
 * The live fan-out of one media: the set of listeners at the live edge. `publish` hands the
 * same SharedBlock to each in turn; a listener only queues it on its own socket (never awaits),
 * so no listener waits on another, and one past its backlog bound handles that itself
 * (skips to the live edge or disconnects) — see ws-listener.ts and download-pump.ts.
 *
 * A very large fan-out is cut into slices of `sliceSize` listeners, the next slice running on
 * setImmediate: one write costs ~10 µs of CPU, so 10 000 listeners would otherwise hold the event
 * loop ~100 ms per block, starving accepts (joins) and the upload's own reads. Blocks (and status
 * messages) published meanwhile queue behind the current one, so every listener still gets them in order; a listener
 * that joins mid-fan-out is visited too and skips, by seq or offset, the blocks it already has.
 * When blocks did queue up (a fan-out takes longer than the time between blocks), the next fan-out
 * carries all of them as one run (shared-block.ts joinBlocks, up to MAX_RUN_BYTES): one write per
 * listener for the run instead of one per block, so a fan-out that falls behind catches up instead
 * of falling further behind — the per-write cost, not the bytes, is what a fan-out spends.
 * `end` first finishes any fan-out under way, so no listener loses a block to an end.
 */
import { liveFirst } from './live-first.ts';
import { CarriedStatus, joinBlocks, SharedBlock, wsTextFrame } from './shared-block.ts';

export type EndState = 'complete' | 'cancelled';
/**
 * Why a media ended without completing, when it was not its owner's cancel: `expired` — a pending
 * id passed limits.unusedExpiryMs with no upload and was forgotten (docs/protocol.md).
 */
export type EndReason = 'expired';

export interface HubListener {
  /**
   * `status`: a status this fan-out carries (refreshStatus); a WebSocket listener writes it with
   * the block, in the same write (CarriedStatus.afterBlock). Other listeners ignore it.
   */
  onBlock(block: SharedBlock, status?: CarriedStatus): void;
  onEnd(state: EndState, reason?: EndReason): void;
  /**
   * A status worth telling listeners (state, listener count): its JSON text as one WebSocket text
   * frame (wsTextFrame), built once and shared by all.
   */
  onStatus?(statusFrame: Buffer): void;
}

/** Listeners written per event-loop turn: ~5 ms of writes at ~10 µs each. */
export const DEFAULT_SLICE_SIZE = 512;
/** Bound on the bytes of one run of queued blocks written to a listener at once. */
export const MAX_RUN_BYTES = 64 * 1024;

export class MediaHub {
  private readonly listeners = new Set<HubListener>();
  /** Blocks and status frames whose fan-out has not finished, oldest first; the first is under way. */
  private readonly pending: (SharedBlock | Buffer)[] = [];
  /** Where the fan-out of pending[0] stands (a live Set iterator: sees adds and removes). */
  private cursor: Iterator<HubListener> | null = null;
  /** The next listener of that fan-out, already taken from the cursor when it yielded. */
  private ahead: HubListener | null = null;
  private readonly resume = (): void => this.run(this.sliceSize);
  /** The periodic status, built when a block's fan-out can carry it (refreshStatus). */
  private statusDue: (() => Buffer) | null = null;
  /** The status the fan-out under way carries with its block. */
  private carried: CarriedStatus | null = null;

  private readonly sliceSize: number;
  /** How the media ended, once it did (a listener that was still catching up reads it). */
  ended: { state: EndState; reason?: EndReason } | null = null;

  constructor(sliceSize = DEFAULT_SLICE_SIZE) {
    // At least one listener per turn, or a fan-out would never progress.
    this.sliceSize = Math.max(1, Math.floor(sliceSize) || 1);
  }

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
    if (this.pending.length === 1) this.start();
  }

  /** Starts fanning out the queue's first item; history waits meanwhile (live-first.ts). */
  private start(): void {
    liveFirst.begin();
    this.run(this.sliceSize);
  }

  /** `message`: the status JSON; sliced like blocks, in order with them. */
  status(message: Buffer): void {
    if (this.listeners.size === 0) return;
    this.pending.push(wsTextFrame(message));
    if (this.pending.length === 1) this.start();
  }

  /**
   * The periodic status (listener count, block count: docs/protocol.md): carried by the next
   * block's fan-out, built then and written with the block. A fan-out of its own would cost every
   * listener a second write, and a block arriving meanwhile would wait behind it (the fan-out
   * bench's `voice` N = 3000 runs: ~35 ms of writes every 5 s, and a block held behind them about
   * twice in every 30 s, the slowest fan-outs of the run; docs/hostile-bench.md, 2026-12-07). If no
   * block carried the previous one (a quiet or interrupted media), this one goes out alone, now.
   */
  refreshStatus(build: () => Buffer): void {
    if (this.listeners.size === 0) return;
    if (this.statusDue) this.status(build());
    this.statusDue = build;
  }

  end(state: EndState, reason?: EndReason): void {
    this.ended = reason ? { state, reason } : { state };
    this.run(Infinity);
    const all = [...this.listeners];
    this.listeners.clear();
    for (const l of all) l.onEnd(state, reason);
  }

  /** Fans out pending blocks to at most `budget` listeners, then yields to the event loop. */
  private run(budget: number): void {
    let left = budget;
    let item = this.pending[0];
    while (item) {
      if (!this.cursor && item instanceof SharedBlock) {
        if (this.pending[1] instanceof SharedBlock) item = this.joinQueued();
        if (this.statusDue) {
          this.carried = new CarriedStatus(item, wsTextFrame(this.statusDue()));
          this.statusDue = null;
        }
      }
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
        if (item instanceof SharedBlock) next.onBlock(item, this.carried ?? undefined);
        else next.onStatus?.(item);
        next = this.following(cursor);
      }
      this.cursor = null;
      this.carried = null;
      this.pending.shift();
      item = this.pending[0];
      if (!item) liveFirst.end();
    }
  }

  /** Replaces the consecutive blocks at the head of the queue by one run of them. */
  private joinQueued(): SharedBlock {
    const run: SharedBlock[] = [];
    let bytes = 0;
    for (const item of this.pending) {
      if (!(item instanceof SharedBlock)) break;
      const last = run.at(-1);
      if (last && (item.seq !== last.seq + last.count || bytes + item.frame.length > MAX_RUN_BYTES))
        break;
      run.push(item);
      bytes += item.frame.length;
    }
    const joined = joinBlocks(run);
    this.pending.splice(0, run.length, joined);
    return joined;
  }

  private following(cursor: Iterator<HubListener>): HubListener | null {
    const r = cursor.next();
    return r.done ? null : r.value;
  }
}

/**
 * Interrupted broadcasts (docs/protocol.md "Interrupted broadcasts"): a live media whose upload
 * has sent no block for limits.interruptedAfterMs is marked interrupted (index `interrupted:
 * true`, a status message to its WebSocket listeners at once), so players show "interrupted"
 * instead of a frozen live edge; the next stored block clears it. After limits.maxIdleLiveMs of
 * silence the media is ended.
 *
 * Ended means completed as stored, not cancelled: every stored byte is a whole, checked block
 * (the framer keeps nothing partial), so what was broadcast stays listenable as a recording with
 * its sha256 over exactly those bytes. Cancelling would throw away a good recording because the
 * broadcaster's machine died. The broadcaster never said "done", which the index cannot tell
 * apart from a normal end; the log line and mxcast_live_idle_total{action="ended"} can.
 */
import type { MediaRecord } from '../storage/media-record.ts';
import type { RelayLimits } from './relay-config.ts';
import type { RelayMetrics } from './relay-metrics.ts';

/** What the watch needs from the store: kept narrow so it does not depend on MediaStore. */
export interface IdleWatchHooks {
  /** Ends a live media as stored (MediaStore.complete). */
  end(rec: MediaRecord): Promise<void>;
  /** An operator's log line for this media's change. */
  event(rec: MediaRecord, what: 'interrupted' | 'resumed' | 'ended idle'): void;
}

export class LiveIdleWatch {
  constructor(
    private readonly limits: Pick<RelayLimits, 'interruptedAfterMs' | 'maxIdleLiveMs'>,
    private readonly metrics: RelayMetrics,
    private readonly hooks: IdleWatchHooks,
  ) {}

  /** How often check() should run: a fraction of the shorter limit, at most once a second. */
  get intervalMs(): number {
    const shortest = Math.min(this.limits.interruptedAfterMs, this.limits.maxIdleLiveMs);
    return Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** A block was stored: the upload is alive again. */
  blockStored(rec: MediaRecord, now: number): void {
    rec.lastBlockAt = now;
    if (!rec.interrupted) return;
    rec.interrupted = false;
    this.hooks.event(rec, 'resumed');
    if (rec.hub.size > 0) rec.hub.status(rec.statusMessage());
  }

  /** Marks and ends the live media in `records` that have been silent too long. */
  check(records: Iterable<MediaRecord>, now: number): void {
    const { interruptedAfterMs, maxIdleLiveMs } = this.limits;
    for (const rec of records) {
      // A damaged media (docs/operations.md "Damage and repair") is not completed over bytes
      // that no longer match: it waits for repair or deletion.
      if (rec.state !== 'live' || rec.damage !== null) continue;
      // A live media loaded at start-up (crash recovery) has had no block in this process:
      // its silence is counted from then.
      if (rec.lastBlockAt === null) rec.lastBlockAt = now;
      const silent = now - rec.lastBlockAt;
      if (silent >= maxIdleLiveMs) {
        this.metrics.liveIdle.ended++;
        rec.interrupted = false;
        // An upload connection still open but silent this long is stopped first, so nothing
        // can append to a media that is complete.
        (rec.uploader as { preempt?: () => void } | null)?.preempt?.();
        this.hooks.event(rec, 'ended idle');
        void this.hooks.end(rec);
      } else if (silent >= interruptedAfterOf(rec, interruptedAfterMs) && !rec.interrupted) {
        rec.interrupted = true;
        this.metrics.liveIdle.interrupted++;
        this.hooks.event(rec, 'interrupted');
        if (rec.hub.size > 0) rec.hub.status(rec.statusMessage());
      }
    }
  }
}

/**
 * The silence that marks `rec` interrupted: the limit, or two declared block durations when its
 * blocks are longer (a broadcaster sending one 8 s block at a time is not interrupted between
 * them: docs/protocol.md "Interrupted broadcasts").
 */
function interruptedAfterOf(rec: MediaRecord, limitMs: number): number {
  const g = rec.geometry;
  return g ? Math.max(limitMs, 2 * g.frame_ms * g.frames_per_block) : limitMs;
}

/**
 * Where a reloaded tab can continue a broadcast: for each block the encoder emitted, the byte
 * offset after it and the Ogg stream's state after it (serial, next page seq, granule). The
 * relay's ack (an offset) then names the resume point the IndexedDB state keeps
 * (resume-store.ts); the points emitted but not yet acked go with it, because the relay may have
 * stored them when the tab died (its stored offset, tus HEAD, is the truth on resume, as for a
 * network drop: docs/web.md "Resume after a network drop").
 */

import type { ResumeRecordPoint } from '@mxcast/protocol';

/**
 * A block boundary a resumed encoder can start from: the resume record's point (its `ahead`
 * entries), so the page keeps and stores one shape.
 */
export type ResumePoint = ResumeRecordPoint;

export class ResumePoints {
  #written: number;
  /** Emitted, not yet acked, in file order. */
  #ahead: ResumePoint[] = [];
  #acked: ResumePoint | null = null;

  /** `startOffset`: bytes already in the file (0 for a new broadcast, the resume offset after a reload). */
  constructor(startOffset: number, start: ResumePoint | null = null) {
    this.#written = startOffset;
    this.#acked = start;
  }

  /** A block (or the magic: no seq, no Ogg state) was handed to the uploader. */
  written(
    seq: number | null,
    length: number,
    ogg?: { serial: number; pageSeq: number; granule: string },
  ): void {
    this.#written += length;
    if (seq === null || !ogg) return;
    this.#ahead.push({ nextSeq: seq + 1, offset: this.#written, ...ogg });
  }

  /** The relay stored everything before `offset`: the newest point at or before it. */
  acked(offset: number): ResumePoint | null {
    while (this.#ahead.length > 0 && this.#ahead[0]!.offset <= offset) {
      this.#acked = this.#ahead.shift()!;
    }
    return this.#acked;
  }

  /** Points emitted after the last ack (few: the uploader's unacked queue). */
  get ahead(): readonly ResumePoint[] {
    return this.#ahead;
  }
}

/**
 * The point matching the relay's stored offset, from the saved acked point and the ones after
 * it; null when the relay holds an offset no saved point ends at (then the stream cannot go on
 * continuously, and the broadcast is not offered for resume).
 */
export function pointAt(
  relayOffset: number,
  acked: ResumePoint,
  ahead: readonly ResumePoint[] = [],
): ResumePoint | null {
  if (relayOffset === acked.offset) return acked;
  return ahead.find((p) => p.offset === relayOffset) ?? null;
}

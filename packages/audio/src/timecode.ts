/**
 * The time-coded test tone: second n of the signal is a steady sine at 300 + 50 × (n mod 20) Hz,
 * so a listener's decoded audio tells where in the broadcast it came from (to the second,
 * modulo 20 s), by measuring a frequency.
 */

import { estimateFrequency } from './frequency.ts';

export const TIMECODE_BASE_HZ = 300;
export const TIMECODE_STEP_HZ = 50;
export const TIMECODE_PERIOD = 20;

/** The tone's frequency at a time (seconds from the start of the signal). */
export function timecodeFrequencyAt(seconds: number): number {
  const n = Math.floor(seconds);
  return (
    TIMECODE_BASE_HZ +
    TIMECODE_STEP_HZ * (((n % TIMECODE_PERIOD) + TIMECODE_PERIOD) % TIMECODE_PERIOD)
  );
}

/**
 * Which second (mod 20) a measured frequency belongs to, or null when it is more than a
 * quarter step away from every code.
 */
export function timecodeSegmentOf(frequency: number): number | null {
  const k = Math.round((frequency - TIMECODE_BASE_HZ) / TIMECODE_STEP_HZ) || 0; // never −0
  if (k < 0 || k >= TIMECODE_PERIOD) return null;
  if (Math.abs(frequency - (TIMECODE_BASE_HZ + TIMECODE_STEP_HZ * k)) > TIMECODE_STEP_HZ / 4)
    return null;
  return k;
}

/** Measures a window of mono samples and returns its second (mod 20), or null. */
export function readTimecode(
  samples: Int16Array | Float32Array,
  sampleRate: number,
): number | null {
  const f = estimateFrequency(samples, sampleRate);
  return Number.isNaN(f) ? null : timecodeSegmentOf(f);
}

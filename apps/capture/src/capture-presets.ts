/**
 * The capture presets are packages/audio's PRESETS (docs/audio.md); this file turns one into the
 * geometry a broadcaster declares at create and puts in the event (docs/listen-link.md).
 */
import { blockGeometry, PRESETS, type Preset } from '@mxcast/audio';
import { streamGeometryOf, type StreamGeometry } from '@mxcast/client';

export type CapturePreset = Preset;

export const CAPTURE_PRESETS: Readonly<Record<string, Preset>> = PRESETS;
export { DEFAULT_PRESET } from '@mxcast/audio';

/** Size on the wire of every audio block of a preset. */
export function audioBlockSize(p: Preset): number {
  return blockGeometry(p).blockBytes;
}

export function presetGeometry(p: Preset, channels: number): StreamGeometry {
  return streamGeometryOf(blockGeometry(p), channels);
}

/**
 * The capture's Opus encoder: packages/audio's OpusCbrEncoder in hard CBR (VBR and DTX off,
 * docs/audio.md) with the preset's frame size, bitrate and application.
 */
import { OpusCbrEncoder } from '@mxcast/audio';
import type { FrameEncoder } from './block-pipeline.ts';
import type { CapturePreset } from './capture-presets.ts';

export function createOpusEncoder(preset: CapturePreset, channels: number): FrameEncoder {
  return OpusCbrEncoder.forPreset(preset, {
    channels,
  });
}

/**
 * The presets offered on the broadcaster page (@mxcast/audio's PRESETS, docs/audio.md) with
 * their labels, and the stream geometry each one declares to the relay at create
 * (docs/protocol.md) and puts in the listen link's `g`.
 */
import { PRESETS, blockGeometry, type Preset, type PresetName } from '@mxcast/audio';
import { streamGeometryOf, type StreamGeometry } from '@mxcast/client';

export interface WebPreset extends Preset {
  label: string;
  hint: string;
  channels: number;
}

const LABELS: Record<PresetName, [string, string]> = {
  voice: [
    'Voice',
    'Talks and podcasts: 32 kbit/s in 240 ms blocks. Listeners hear you about a second later.',
  ],
  music: ['Music', 'Full-band music: 128 kbit/s in 60 ms blocks.'],
  'low-latency': [
    'Low latency',
    'Conversation: one 20 ms frame per block at 32 kbit/s. Lowest delay, more overhead.',
  ],
};

export const WEB_PRESETS: readonly WebPreset[] = (['voice', 'music', 'low-latency'] as const).map(
  (name) => ({
    ...PRESETS[name],
    label: LABELS[name][0],
    hint: LABELS[name][1],
    channels: 1,
  }),
);

export function presetGeometry(p: WebPreset): StreamGeometry {
  return streamGeometryOf(blockGeometry(p), p.channels);
}

export function findPreset(name: string | null): WebPreset {
  return WEB_PRESETS.find((p) => p.name === name) ?? WEB_PRESETS[0]!;
}

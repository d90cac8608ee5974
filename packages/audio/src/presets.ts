/**
 * The stream presets (docs/audio.md) and the sizes that follow from them exactly: every audio
 * block holds one Ogg page (docs/audio.md) of `framesPerBlock` CBR packets.
 */

export type PresetName = 'low-latency' | 'voice' | 'music';

export interface Preset {
  name: PresetName;
  frameMs: number;
  framesPerBlock: number;
  /** Bits per second for the whole stream. */
  bitrate: number;
  application: 'voip' | 'audio';
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  'low-latency': {
    name: 'low-latency',
    frameMs: 20,
    framesPerBlock: 1,
    bitrate: 32000,
    application: 'voip',
  },
  voice: { name: 'voice', frameMs: 20, framesPerBlock: 12, bitrate: 32000, application: 'voip' },
  music: { name: 'music', frameMs: 20, framesPerBlock: 3, bitrate: 128000, application: 'audio' },
};

export const DEFAULT_PRESET: PresetName = 'voice';

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** MSC4016 v3 block overhead around the page (docs/format.md): 16-byte header + 16-byte GCM tag. */
const BLOCK_OVERHEAD = 16 + 16;

export interface BlockGeometry {
  frameMs: number;
  framesPerBlock: number;
  bitrate: number;
  /** Samples per frame at 48 kHz. */
  frameSamples: number;
  /** Bytes of each CBR packet. */
  packetBytes: number;
  /** Bytes of each audio Ogg page: 27 + lacing values + packets (RFC 3533 §6). */
  pageBytes: number;
  /** Bytes of each audio block on the wire: header + page + GCM tag. */
  blockBytes: number;
  /** Audio per block in milliseconds. */
  blockMs: number;
  /** Samples (48 kHz) per block: the granule step between audio pages. */
  blockSamples: number;
}

/** Exact sizes of an audio block for a preset (or any frame/bitrate/frames-per-block triple). */
export function blockGeometry(p: {
  frameMs: number;
  framesPerBlock: number;
  bitrate: number;
}): BlockGeometry {
  const packetBytes = (p.bitrate * p.frameMs) / 8000;
  // A packet of n bytes takes floor(n / 255) + 1 lacing values (RFC 3533 §5).
  const lacing = p.framesPerBlock * (Math.floor(packetBytes / 255) + 1);
  const pageBytes = 27 + lacing + p.framesPerBlock * packetBytes;
  const frameSamples = (48000 * p.frameMs) / 1000;
  return {
    frameMs: p.frameMs,
    framesPerBlock: p.framesPerBlock,
    bitrate: p.bitrate,
    frameSamples,
    packetBytes,
    pageBytes,
    blockBytes: pageBytes + BLOCK_OVERHEAD,
    blockMs: p.frameMs * p.framesPerBlock,
    blockSamples: frameSamples * p.framesPerBlock,
  };
}

/**
 * The stream shapes the fan-out benchmark replays: docs/audio.md's `voice` and `low-latency`
 * presets. Each audio block's plaintext is one Ogg page of whole 80-byte Opus packets
 * (32 kbit/s × 20 ms, hard CBR), so the page is 27 + packets (lacing) + 80 × packets bytes
 * (RFC 3533 §6) and the MSC4016 block adds a 16-byte header and a 16-byte GCM tag.
 */

export type FanoutPresetName = 'voice' | 'low-latency';

export interface FanoutPreset {
  name: FanoutPresetName;
  /** Opus packets (20 ms frames) per Ogg page, hence per block. */
  framesPerBlock: number;
  /** Bytes of one Opus packet: 32 kbit/s × 20 ms / 8. */
  packetBytes: number;
  /** Milliseconds of audio per block: the real-time interval between blocks. */
  blockIntervalMs: number;
  /** Bytes of one audio Ogg page (the Icecast peer's unit and the block's plaintext). */
  oggPageBytes: number;
  /** Bytes of one audio block on the wire: 16-byte header + page + 16-byte GCM tag. */
  blockBytes: number;
  /**
   * The p99 delay within which a server holds N listeners at this preset (the targets of
   * docs/benchmarks.md "Live fan-out"): low-latency 50 ms, voice 100 ms.
   */
  targetP99Ms: number;
}

const FRAME_MS = 20;
const PACKET_BYTES = (32000 * FRAME_MS) / 1000 / 8;

function preset(name: FanoutPresetName, framesPerBlock: number, targetP99Ms: number): FanoutPreset {
  const oggPageBytes = 27 + framesPerBlock + framesPerBlock * PACKET_BYTES;
  return {
    name,
    framesPerBlock,
    packetBytes: PACKET_BYTES,
    blockIntervalMs: framesPerBlock * FRAME_MS,
    oggPageBytes,
    blockBytes: 16 + oggPageBytes + 16,
    targetP99Ms,
  };
}

export const FANOUT_PRESETS: Record<FanoutPresetName, FanoutPreset> = {
  'low-latency': preset('low-latency', 1, 50),
  voice: preset('voice', 12, 100),
};

/**
 * Where each block of a broadcast lies in bytes and in time. docs/audio.md: audio is hard-CBR
 * with a fixed number of frames per block, so every audio block (seq ≥ 2) has the same size on
 * the wire and the same duration, and a time maps to a byte offset by arithmetic (one Range
 * request per seek once the header blocks are known).
 */
import type { DeclaredStreamGeometry } from '@mxcast/protocol';
import { PlayerError } from './player-error.ts';
import type { DeclaredGeometry } from './player-options.ts';

/** Opus always decodes at 48 kHz (RFC 7845 §4). */
export const OPUS_RATE = 48_000;
/** RFC 7845 §4.6: decode at least 80 ms before a seek target and discard it, so the decoder converges. */
export const PRE_ROLL_SAMPLES = 3_840;
/** The first audio block: block 0 is OpusHead, block 1 OpusTags (docs/audio.md). */
export const FIRST_AUDIO_SEQ = 2;

/**
 * The player's own view of a stream, worked out from what it read (geometryFromBlocks): not the
 * wire geometry a broadcaster declares (@mxcast/protocol's StreamGeometry, snake case), which is
 * one input to it (declaredGeometryOf).
 */
export interface PlaybackGeometry {
  /** Offset of block 2, the first audio block (the relay's `header_end`). */
  headerEnd: number;
  /** Size on the wire of every audio block (header + ciphertext + tag); null if sizes vary. */
  blockSize: number | null;
  /** 48 kHz samples per audio block (frame_ms × frames_per_block × 48). */
  samplesPerBlock: number;
  /** Granule position at the start of block 2 (0 for mxcast's writer; RFC 7845 §4.5 allows more). */
  startGranule: number;
  /** OpusHead pre-skip (RFC 7845 §4.2): granule `preSkip` is output sample 0. */
  preSkip: number;
  channels: number;
}

/** Where the player must start reading to play from an output sample. */
export interface SeekPlan {
  seq: number;
  offset: number;
  /** Output sample at which the player starts handing PCM to the sink. */
  targetSample: number;
}

/** Byte offset of block `seq` (≥ 2) when blocks are constant. */
export function blockOffset(g: PlaybackGeometry, seq: number): number {
  if (g.blockSize === null)
    throw new PlayerError('BAD_REQUEST', 'block sizes vary: offsets need a bisection', {
      fatal: false,
    });
  if (seq < FIRST_AUDIO_SEQ)
    throw new PlayerError('BAD_REQUEST', `block ${seq} is a header block`, { fatal: false });
  return g.headerEnd + (seq - FIRST_AUDIO_SEQ) * g.blockSize;
}

/** Output sample (after pre-skip) at which block `seq` (≥ 2) starts. */
export function blockStartSample(g: PlaybackGeometry, seq: number): number {
  return g.startGranule + (seq - FIRST_AUDIO_SEQ) * g.samplesPerBlock - g.preSkip;
}

/**
 * The block to start decoding from for output sample `target`: the last block that starts at
 * least PRE_ROLL_SAMPLES before it (or block 2), so the pre-roll is decoded and discarded
 * (RFC 7845 §4.6). `blockCount`, when known, clamps the plan to a block that exists.
 */
export function planSeek(g: PlaybackGeometry, target: number, blockCount?: number): SeekPlan {
  if (!(target >= 0))
    throw new PlayerError('BAD_REQUEST', `seek target ${target} is negative`, { fatal: false });
  const granule = target + g.preSkip - PRE_ROLL_SAMPLES - g.startGranule;
  let seq = FIRST_AUDIO_SEQ + Math.max(0, Math.floor(granule / g.samplesPerBlock));
  if (blockCount !== undefined && blockCount > FIRST_AUDIO_SEQ) seq = Math.min(seq, blockCount - 1);
  return { seq, offset: blockOffset(g, seq), targetSample: target };
}

/** Parses a time given as seconds (`90`, `12.5`) or `h:mm:ss(.fff)` / `mm:ss` into seconds. */
export function parseTime(text: string): number {
  const parts = text.trim().split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) {
    throw new PlayerError('BAD_REQUEST', `time '${text}' is not seconds or h:mm:ss`, {
      fatal: true,
    });
  }
  let seconds = 0;
  for (const p of parts) seconds = seconds * 60 + Number(p);
  return seconds;
}

/**
 * The geometry from what the player read: OpusHead, where block 2 starts, and either a declared
 * geometry (listen link `g`, event content) or block 2 itself (its size on the wire, its
 * samples and granule: docs/audio.md says every audio block is the same).
 */
export function geometryFromBlocks(input: {
  head: { preSkip: number; channels: number };
  headerEnd: number;
  declared?: { frameMs: number; framesPerBlock: number; blockSize: number };
  firstAudio: { seq: number; size: number; granule: bigint; samples: number };
}): PlaybackGeometry {
  const { head, declared, firstAudio: a } = input;
  return {
    headerEnd: input.headerEnd,
    blockSize: declared?.blockSize ?? a.size,
    samplesPerBlock: declared ? declared.frameMs * 48 * declared.framesPerBlock : a.samples,
    // RFC 7845 §4.5: the first audio page's granule minus its samples is where the stream starts.
    startGranule: a.seq === FIRST_AUDIO_SEQ && a.samples > 0 ? Number(a.granule) - a.samples : 0,
    preSkip: head.preSkip,
    channels: head.channels,
  };
}

/**
 * The geometry a listen link's `g` or an event content's stream info declares (@mxcast/protocol's
 * wire type, snake case, checked by its geometryProblem) as the Player's `geometry` option.
 */
export function declaredGeometryOf(wire: DeclaredStreamGeometry): DeclaredGeometry {
  return {
    frameMs: wire.frame_ms,
    framesPerBlock: wire.frames_per_block,
    blockSize: wire.block_size,
    ...(wire.channels !== undefined ? { channels: wire.channels } : {}),
  };
}

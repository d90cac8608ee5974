/**
 * The Ogg Opus identification header, "OpusHead" (RFC 7845 §5.1):
 *
 *   0  "OpusHead"
 *   8  version (u8)             1; readers accept any version whose major nibble is 0
 *   9  channel count (u8)
 *  10  pre-skip (u16 LE)        samples at 48 kHz to drop at the start
 *  12  input sample rate (u32 LE)  informational only
 *  16  output gain (i16 LE)     Q7.8 dB
 *  18  mapping family (u8)      0: mono/stereo, no table
 *  19  [family != 0] stream count, coupled count, channel mapping[channels]
 */

import { OggError } from './ogg-error.ts';

export interface OpusHead {
  version: number;
  channels: number;
  preSkip: number;
  inputSampleRate: number;
  /** Output gain in Q7.8 dB as stored (divide by 256 for dB). */
  outputGain: number;
  mappingFamily: number;
  /** Present when mappingFamily != 0. */
  streamCount?: number;
  coupledCount?: number;
  mapping?: number[];
}

const MAGIC = new TextEncoder().encode('OpusHead');

export function hasMagic(packet: Uint8Array, magic: Uint8Array): boolean {
  if (packet.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (packet[i] !== magic[i]) return false;
  return true;
}

export function isOpusHead(packet: Uint8Array): boolean {
  return hasMagic(packet, MAGIC);
}

/** Encodes an OpusHead with channel mapping family 0 (1 or 2 channels; RFC 7845 §5.1.1.1). */
export function encodeOpusHead(head: {
  channels: number;
  preSkip: number;
  inputSampleRate?: number;
  outputGain?: number;
}): Uint8Array {
  const { channels, preSkip } = head;
  const inputSampleRate = head.inputSampleRate ?? 48000;
  const outputGain = head.outputGain ?? 0;
  if (channels !== 1 && channels !== 2) {
    throw new OggError('BAD_ARGUMENT', `mapping family 0 carries 1 or 2 channels, not ${channels}`);
  }
  if (!Number.isInteger(preSkip) || preSkip < 0 || preSkip > 0xffff) {
    throw new OggError('BAD_ARGUMENT', `pre-skip ${preSkip} is not a u16`);
  }
  if (!Number.isInteger(inputSampleRate) || inputSampleRate < 0 || inputSampleRate > 0xffffffff) {
    throw new OggError('BAD_ARGUMENT', `input sample rate ${inputSampleRate} is not a u32`);
  }
  if (!Number.isInteger(outputGain) || outputGain < -32768 || outputGain > 32767) {
    throw new OggError('BAD_ARGUMENT', `output gain ${outputGain} is not an i16 (Q7.8 dB)`);
  }
  const out = new Uint8Array(19);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[8] = 1;
  out[9] = channels;
  view.setUint16(10, preSkip, true);
  view.setUint32(12, inputSampleRate, true);
  view.setInt16(16, outputGain, true);
  out[18] = 0;
  return out;
}

export function parseOpusHead(packet: Uint8Array): OpusHead {
  const bad = (why: string): OggError => new OggError('BAD_OPUS_HEAD', `OpusHead: ${why}`);
  if (!isOpusHead(packet)) throw bad('the packet does not start with "OpusHead"');
  if (packet.length < 19) throw bad(`${packet.length} bytes; at least 19 are needed`);
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const version = packet[8] as number;
  // §5.1: a major version (upper nibble) other than 0 is incompatible.
  if (version >> 4 !== 0) throw bad(`version ${version} is of an incompatible major version`);
  const channels = packet[9] as number;
  if (channels === 0) throw bad('channel count 0');
  const head: OpusHead = {
    version,
    channels,
    preSkip: view.getUint16(10, true),
    inputSampleRate: view.getUint32(12, true),
    outputGain: view.getInt16(16, true),
    mappingFamily: packet[18] as number,
  };
  if (head.mappingFamily === 0) {
    if (channels > 2) throw bad(`mapping family 0 with ${channels} channels (at most 2)`);
    return head;
  }
  if (packet.length < 21 + channels) {
    throw bad(
      `mapping family ${head.mappingFamily} needs ${21 + channels} bytes; got ${packet.length}`,
    );
  }
  head.streamCount = packet[19] as number;
  head.coupledCount = packet[20] as number;
  if (head.streamCount === 0 || head.coupledCount > head.streamCount) {
    throw bad(`stream count ${head.streamCount}, coupled count ${head.coupledCount}`);
  }
  head.mapping = Array.from(packet.subarray(21, 21 + channels));
  return head;
}

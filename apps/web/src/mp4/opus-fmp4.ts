/**
 * Fragmented MP4 for Opus, as MSE (and so hls.js) plays it: an init segment
 * (`ftyp` + `moov` with an `Opus` sample entry carrying `dOps`, and `mvex`) and media fragments
 * (`moof` + `mdat`), one sample per Opus packet. Follows "Encapsulation of Opus in ISO Base
 * Media File Format" (Opus-in-ISOBMFF, v0.8): §4.3.1 the `Opus` AudioSampleEntry (channelcount,
 * samplesize 16, samplerate 48000), §4.3.2 the `dOps` box (OpusHead's fields, but big-endian and
 * without the magic), §4.4 one Opus packet per sample, timescale 48000.
 *
 * Why hand-written rather than mp4-muxer/mediabunny: those are session muxers (one init, then
 * contiguous fragments from time 0 fed by WebCodecs); the HLS loader needs a stateless function
 * that turns any segment, fetched in any order, into a fragment with its own decode time. That is
 * ~150 lines here and no extra bundle weight.
 */
import type { OpusHead } from '@mxcast/ogg';
import { ByteSink, box, concat, fullBox } from './mp4-box-writer.ts';

export const OPUS_TIMESCALE = 48000;
const TRACK_ID = 1;
/** The identity transform matrix of mvhd/tkhd (ISO/IEC 14496-12 §8.2.2). */
const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

/** The OpusHead fields dOps repeats (RFC 7845 §5.1): all but the version (dOps has its own). */
export type OpusConfig = Omit<OpusHead, 'version'>;

export interface OpusSample {
  data: Uint8Array;
  /** Samples at 48 kHz this packet decodes to. */
  duration: number;
}

/** The `dOps` box (Opus-in-ISOBMFF §4.3.2). */
export function dOpsBox(c: OpusConfig): Uint8Array {
  const s = new ByteSink()
    .u8(0)
    .u8(c.channels)
    .u16(c.preSkip)
    .u32(c.inputSampleRate)
    .i16(c.outputGain);
  s.u8(c.mappingFamily);
  if (c.mappingFamily !== 0) {
    if (c.streamCount === undefined || c.coupledCount === undefined || !c.mapping) {
      throw new Error(
        `dOps: mapping family ${c.mappingFamily} needs stream count, coupled count and mapping`,
      );
    }
    s.u8(c.streamCount).u8(c.coupledCount);
    for (const m of c.mapping) s.u8(m);
  }
  return box('dOps', s.done());
}

/** The init segment: ftyp + moov (one audio track, empty sample tables, mvex/trex). */
export function opusInitSegment(c: OpusConfig): Uint8Array {
  const ftyp = box(
    'ftyp',
    new ByteSink().ascii('isom').u32(0x200).ascii('isom').ascii('iso6').ascii('mp41').done(),
  );
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    matrixTail(
      new ByteSink().u32(0).u32(0).u32(OPUS_TIMESCALE).u32(0).u32(0x00010000).u16(0x0100).zeros(10),
    )
      .zeros(24)
      .u32(TRACK_ID + 1)
      .done(),
  );
  const tkhd = fullBox(
    'tkhd',
    0,
    0x3, // enabled | in movie
    matrixTail(
      new ByteSink()
        .u32(0)
        .u32(0)
        .u32(TRACK_ID)
        .u32(0)
        .u32(0)
        .zeros(8)
        .u16(0)
        .u16(0)
        .u16(0x0100)
        .u16(0),
    )
      .u32(0)
      .u32(0)
      .done(),
  );
  // language 'und' packed as three 5-bit letters (ISO 639-2/T, §8.4.2.3).
  const mdhd = fullBox(
    'mdhd',
    0,
    0,
    new ByteSink().u32(0).u32(0).u32(OPUS_TIMESCALE).u32(0).u16(0x55c4).u16(0).done(),
  );
  const hdlr = fullBox(
    'hdlr',
    0,
    0,
    new ByteSink().u32(0).ascii('soun').zeros(12).ascii('SoundHandler').u8(0).done(),
  );
  const opus = box(
    'Opus',
    new ByteSink()
      .zeros(6)
      .u16(1) // data_reference_index
      .zeros(8)
      .u16(c.channels)
      .u16(16) // samplesize (§4.3.1)
      .u16(0)
      .u16(0)
      .u32(OPUS_TIMESCALE * 0x10000) // samplerate 48000 as 16.16
      .done(),
    dOpsBox(c),
  );
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, new ByteSink().u32(1).done(), opus),
    fullBox('stts', 0, 0, new ByteSink().u32(0).done()),
    fullBox('stsc', 0, 0, new ByteSink().u32(0).done()),
    fullBox('stsz', 0, 0, new ByteSink().u32(0).u32(0).done()),
    fullBox('stco', 0, 0, new ByteSink().u32(0).done()),
  );
  const dinf = box(
    'dinf',
    fullBox('dref', 0, 0, new ByteSink().u32(1).done(), fullBox('url ', 0, 1)),
  );
  const minf = box('minf', fullBox('smhd', 0, 0, new ByteSink().u16(0).u16(0).done()), dinf, stbl);
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, minf));
  const trex = fullBox(
    'trex',
    0,
    0,
    new ByteSink().u32(TRACK_ID).u32(1).u32(0).u32(0).u32(0).done(),
  );
  return concat([ftyp, box('moov', mvhd, trak, box('mvex', trex))]);
}

/**
 * One media fragment: moof (mfhd, traf: tfhd default-base-is-moof, tfdt v1, trun with per-sample
 * duration and size) + mdat. `baseDecodeTime` is in 48 kHz samples.
 */
export function opusFragment(
  sequence: number,
  baseDecodeTime: bigint,
  samples: OpusSample[],
): Uint8Array {
  const moofFor = (dataOffset: number) => {
    const trun = new ByteSink().u32(samples.length).u32(dataOffset);
    for (const s of samples) trun.u32(s.duration).u32(s.data.length);
    return box(
      'moof',
      fullBox('mfhd', 0, 0, new ByteSink().u32(sequence).done()),
      box(
        'traf',
        fullBox('tfhd', 0, 0x020000, new ByteSink().u32(TRACK_ID).done()),
        fullBox('tfdt', 1, 0, new ByteSink().u64(baseDecodeTime).done()),
        // 0x1 data-offset-present, 0x100 sample-duration-present, 0x200 sample-size-present
        fullBox('trun', 0, 0x000301, trun.done()),
      ),
    );
  };
  // The data offset counts from the moof's first byte to the first sample: moof size + mdat header.
  const size = moofFor(0).length;
  const moof = moofFor(size + 8);
  const mdat = box('mdat', ...samples.map((s) => s.data));
  return concat([moof, mdat]);
}

function matrixTail(sink: ByteSink): ByteSink {
  for (const m of MATRIX) sink.u32(m);
  return sink;
}

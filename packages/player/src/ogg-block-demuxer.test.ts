import { describe, expect, it } from 'vitest';
import { OggFlag, OggOpusPager, writeOggPage } from '@mxcast/ogg';
import { OggBlockDemuxer } from './ogg-block-demuxer.ts';
import { PlayerError } from './player-error.ts';

// A CELT-only 20 ms mono packet TOC (config 31, code 0) and a few bytes.
const packet = Uint8Array.of(0xf8, 1, 2, 3, 4, 5);

describe('OggBlockDemuxer', () => {
  it('reads OpusHead, OpusTags and audio pages with granules and EOS', () => {
    const pager = new OggOpusPager({ serial: 42, channels: 1, preSkip: 312 });
    const d = new OggBlockDemuxer();
    const head = d.demux(0, pager.headPage());
    expect(head.kind === 'head' && head.head.preSkip).toBe(312);
    expect(d.demux(1, pager.tagsPage()).kind).toBe('tags');
    const a = d.demux(2, pager.audioPage([packet, packet]));
    expect(a).toMatchObject({ kind: 'audio', granule: 1920n, eos: false });
    const b = d.demux(3, pager.audioPage([packet], { eos: true }));
    expect(b).toMatchObject({ kind: 'audio', granule: 2880n, eos: true });
  });

  it('refuses a stream that is not Ogg Opus as docs/audio.md lays it out', () => {
    const pager = new OggOpusPager({ serial: 42, channels: 1, preSkip: 312 });
    const bad = (seq: number, bytes: Uint8Array, d = new OggBlockDemuxer()) => {
      try {
        d.demux(seq, bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(PlayerError);
        return (err as PlayerError).code;
      }
      return 'ok';
    };
    expect(bad(0, pager.tagsPage())).toBe('BAD_STREAM');
    expect(bad(1, pager.headPage())).toBe('BAD_STREAM');
    expect(bad(2, Uint8Array.of(1, 2, 3))).toBe('BAD_STREAM');
    const continued = writeOggPage({
      flags: OggFlag.CONTINUED,
      granule: 960n,
      serial: 42,
      pageSeq: 2,
      packets: [packet],
    });
    expect(bad(2, continued)).toBe('BAD_STREAM');
    const d = new OggBlockDemuxer();
    d.demux(0, pager.headPage());
    const otherSerial = writeOggPage({
      flags: 0,
      granule: 960n,
      serial: 43,
      pageSeq: 2,
      packets: [packet],
    });
    expect(bad(2, otherSerial, d)).toBe('BAD_STREAM');
  });
});

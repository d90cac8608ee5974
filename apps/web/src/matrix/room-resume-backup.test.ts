/**
 * The page's state as the shared secret's plaintext and back (room-resume-backup.ts), and a
 * stale point moved to the relay's offset by whole CBR blocks (relay-resume-point.ts's
 * pointAfter) — what a resume from the backup (the page's, written every few seconds, or the
 * CLI's, without `pageSeq`/`ahead`) continues from.
 */
import { generateEncryptedFile, generateEpoch } from '@mxcast/format';
import { describe, expect, it } from 'vitest';
import { presetGeometry, WEB_PRESETS } from '../broadcast/broadcast-presets.ts';
import type { WebResumeState } from '../broadcast/resume-store.ts';
import { pointAfter } from './relay-resume-point.ts';
import { fromStoredCapture, toStoredCapture } from './room-resume-backup.ts';

const voice = WEB_PRESETS.find((p) => p.name === 'voice')!;
const geometry = presetGeometry(voice);
const perBlock = geometry.frames_per_block * ((geometry.sample_rate * geometry.frame_ms) / 1000);

function state(): WebResumeState {
  const file = { ...generateEncryptedFile(), url: 'mxc://relay.test/abc' };
  return {
    version: 1,
    relayUrl: 'https://relay.test',
    mxc: 'mxc://relay.test/abc',
    userId: '@alice:test',
    deviceId: 'AAAA',
    roomId: '!room:test',
    broadcastId: 'b1',
    announcementEventId: '$ann',
    file,
    epochs: [{ startSeq: 0, key: file.key, iv: file.iv }, generateEpoch(2)],
    nextSeq: 10,
    offset: 4 + 2 * 200 + 8 * geometry.block_size,
    serial: 1234,
    pageSeq: 10,
    granule: String(8 * perBlock),
    ahead: [],
    preset: 'voice',
    geometry,
    title: 'Show',
    startedTs: 1_700_000_000_000,
    updatedTs: 1_700_000_060_000,
  };
}

describe('the backup secret of a web broadcast', () => {
  it('holds the CLI capture state fields and reads back as the same state on another device', () => {
    const s = state();
    const stored = toStoredCapture(s);
    expect(stored).toMatchObject({
      roomId: s.roomId,
      broadcastId: 'b1',
      announcementEventId: '$ann',
      startedTs: s.startedTs,
    });
    // The CLI's ResumeState (apps/capture/src/resume-state.ts) fields, as its checkState wants.
    expect(stored.resume).toMatchObject({
      version: 1,
      relay: s.relayUrl,
      mxc: s.mxc,
      preset: 'voice',
      title: 'Show',
      serial: 1234,
      nextSeq: 10,
      offset: s.offset,
      granule: s.granule,
      updatedAt: new Date(s.updatedTs).toISOString(),
    });
    expect((stored.resume.file as { url: string }).url).toBe(s.mxc);
    const owner = { userId: '@alice:test', deviceId: 'BBBB' };
    const back = fromStoredCapture(JSON.parse(JSON.stringify(stored)), owner, s.relayUrl);
    expect(back).toEqual({ ...s, deviceId: 'BBBB' });
  });

  it("reads the CLI's secret: page seq = block seq, epoch 0 from the file when no epochs", () => {
    const s = state();
    const resume = { ...toStoredCapture(s).resume };
    delete resume.pageSeq;
    delete resume.ahead;
    delete resume.epochs;
    const back = fromStoredCapture({ ...toStoredCapture(s), resume }, s, s.relayUrl);
    expect(back.pageSeq).toBe(10);
    expect(back.ahead).toEqual([]);
    expect(back.epochs).toEqual([{ startSeq: 0, key: s.file.key, iv: s.file.iv }]);
  });

  it('refuses a malformed secret', () => {
    const stored = toStoredCapture(state());
    expect(() =>
      fromStoredCapture({ ...stored, resume: { ...stored.resume, nextSeq: -1 } }, state(), ''),
    ).toThrow(/malformed: missing or bad 'nextSeq'/);
    expect(() =>
      fromStoredCapture({ ...stored, resume: { ...stored.resume, ahead: [null!] } }, state(), ''),
    ).toThrow(/malformed: missing or bad 'ahead'/);
  });
});

describe('pointAfter: a stale point moved to the relay offset', () => {
  it('by whole blocks: seq, page seq and granule move together', () => {
    const s = state();
    expect(pointAfter(s.offset + 3 * geometry.block_size, s)).toEqual({
      nextSeq: 13,
      offset: s.offset + 3 * geometry.block_size,
      serial: 1234,
      pageSeq: 13,
      granule: String(11 * perBlock),
    });
    expect(pointAfter(s.offset, s)?.nextSeq).toBe(10);
  });

  it('from the newest saved point at or before the offset', () => {
    const s = state();
    s.ahead = [
      {
        nextSeq: 11,
        offset: s.offset + geometry.block_size,
        serial: 1234,
        pageSeq: 11,
        granule: String(9 * perBlock),
      },
    ];
    expect(pointAfter(s.offset + 2 * geometry.block_size, s)?.granule).toBe(String(10 * perBlock));
  });

  it('refuses an offset inside a block, before the point, or a point within the headers', () => {
    const s = state();
    expect(pointAfter(s.offset + geometry.block_size + 1, s)).toBeNull();
    expect(pointAfter(s.offset - geometry.block_size, s)).toBeNull();
    expect(pointAfter(s.offset + geometry.block_size, { ...s, nextSeq: 1, pageSeq: 1 })).toBeNull();
  });
});

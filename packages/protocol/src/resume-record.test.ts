/**
 * The one resume record of both broadcasters (resume-record.ts): a record with every optional
 * field and one with none survive JSON (the state file and the secret are JSON text) and pass the
 * check; each broken field is named, so the capture's and the page's errors say what is wrong.
 */
import { epochFromFile, generateEncryptedFile, generateEpoch } from '@mxcast/format';
import { describe, expect, it } from 'vitest';
import { resumeRecordProblem, type ResumeRecord } from './resume-record.ts';
import { resumeRecordOf, VOICE_BLOCK_BYTES } from './testing/resume-fixtures.ts';

const file = generateEncryptedFile('mxc://relay.test/abcdefghijklmnopqrstuv');
/** As the CLI capture writes it: no `pageSeq`, no `ahead`, no `epochs` (before key epochs). */
const bare = resumeRecordOf(file);

/** As the web page writes it: every optional field. */
const full: ResumeRecord = {
  ...bare,
  epochs: [epochFromFile(file), generateEpoch(40)],
  pageSeq: 10,
  ahead: [1, 2].map((k) => ({
    nextSeq: bare.nextSeq + k,
    offset: bare.offset + k * VOICE_BLOCK_BYTES,
    serial: bare.serial,
    pageSeq: bare.nextSeq + k,
    granule: String(BigInt(bare.granule) + BigInt(k * 12 * 960)),
  })),
};

const viaJson = (r: unknown): unknown => JSON.parse(JSON.stringify(r));

describe('resumeRecordProblem', () => {
  it('accepts a record with every optional field and one with none, after JSON', () => {
    for (const r of [bare, full, { ...full, ahead: [] }]) {
      const back = viaJson(r);
      expect(resumeRecordProblem(back)).toBeNull();
      expect(back).toEqual(r);
    }
  });

  it('names the first field that is wrong', () => {
    const cases: [unknown, string][] = [
      [null, 'version'],
      ['text', 'version'],
      [{ ...bare, version: 2 }, 'version'],
      [{ ...bare, relay: undefined }, 'relay'],
      [{ ...bare, mxc: 5 }, 'mxc'],
      [{ ...bare, preset: null }, 'preset'],
      [{ ...bare, title: undefined }, 'title'],
      [{ ...bare, granule: 103680 }, 'granule'],
      [{ ...bare, updatedAt: undefined }, 'updatedAt'],
      [{ ...bare, serial: -1 }, 'serial'],
      [{ ...bare, nextSeq: 1.5 }, 'nextSeq'],
      [{ ...bare, offset: '8452' }, 'offset'],
      [{ ...bare, file: { ...file, key: {} } }, 'file'],
      [{ ...bare, file: { ...file, iv: undefined } }, 'file'],
      [{ ...bare, geometry: { frame_ms: 20 } }, 'geometry'],
      [{ ...bare, epochs: 'none' }, 'epochs'],
      [{ ...full, pageSeq: -3 }, 'pageSeq'],
      [{ ...full, ahead: {} }, 'ahead'],
      [{ ...full, ahead: [{ ...full.ahead![0], granule: 1 }] }, 'ahead'],
      [{ ...full, ahead: [null] }, 'ahead'],
    ];
    for (const [value, field] of cases) {
      expect(resumeRecordProblem(viaJson(value)), JSON.stringify(value)).toBe(
        `missing or bad '${field}'`,
      );
    }
  });
});

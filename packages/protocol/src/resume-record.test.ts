/**
 * The one resume record of both broadcasters (resume-record.ts): a record with every optional
 * field and one with none survive JSON (the state file and the secret are JSON text) and pass the
 * check; each broken field is named, so the capture's and the page's errors say what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { resumeRecordProblem, type ResumeRecord } from './resume-record.ts';

const file = {
  v: 'v2',
  url: 'mxc://relay.test/abcdefghijklmnopqrstuv',
  key: {
    kty: 'oct',
    key_ops: ['encrypt', 'decrypt'],
    alg: 'A256CTR',
    k: 'qcHVMSgYg-7ukRXJSzsV1IW4DNLBm5YIjSlPU5ep4yY',
    ext: true,
  },
  iv: 'X85+XgHN+HEAAAAAAAAAAA',
  hashes: {},
} as unknown as ResumeRecord['file'];

/** As the CLI capture writes it: no `pageSeq`, no `ahead`, no `epochs` (before key epochs). */
const bare: ResumeRecord = {
  version: 1,
  relay: 'https://relay.test',
  mxc: 'mxc://relay.test/abcdefghijklmnopqrstuv',
  file,
  preset: 'voice',
  geometry: {
    frame_ms: 20,
    frames_per_block: 12,
    bitrate: 32000,
    block_size: 1031,
    sample_rate: 48000,
    channels: 1,
  },
  title: 'Show',
  serial: 1234,
  nextSeq: 10,
  offset: 4 + 2 * 100 + 8 * 1031,
  granule: String(8 * 12 * 960),
  updatedAt: '2026-12-02T14:00:00.000Z',
};

/** As the web page writes it: every optional field. */
const full: ResumeRecord = {
  ...bare,
  epochs: [
    { startSeq: 0, key: file.key, iv: file.iv },
    { startSeq: 40, key: { ...file.key, k: 'B'.repeat(43) }, iv: 'A'.repeat(22) },
  ],
  pageSeq: 10,
  ahead: [
    { nextSeq: 11, offset: bare.offset + 1031, serial: 1234, pageSeq: 11, granule: '103680' },
    { nextSeq: 12, offset: bare.offset + 2062, serial: 1234, pageSeq: 12, granule: '115200' },
  ],
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

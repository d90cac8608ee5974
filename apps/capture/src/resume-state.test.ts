import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { epochFromFile, generateEncryptedFile, generateEpoch } from '@mxcast/format';
import { resumeRecordOf, VOICE_BLOCK_BYTES } from '@mxcast/protocol/testing/resume';
import { CaptureError } from './capture-error.ts';
import { readResumeState, writeResumeState, type ResumeState } from './resume-state.ts';

function sampleState(): ResumeState {
  return resumeRecordOf(generateEncryptedFile('mxc://localhost/abcdefghijklmnopqrstuv'));
}

async function errorOf(p: Promise<unknown>): Promise<CaptureError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CaptureError);
  return err as CaptureError;
}

describe('resume state', () => {
  it('round-trips in clear, written 0600', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mxcast-state-'));
    const file = path.join(dir, 'state.json');
    const state = sampleState();
    await writeResumeState(file, state);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readResumeState(file)).toEqual(state);
  });

  it('with a passphrase: no key in the file, round-trips, refuses a wrong passphrase or a flipped byte', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mxcast-state-'));
    const file = path.join(dir, 'state.json');
    const state = sampleState();
    await writeResumeState(file, state, 'correct horse battery staple');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(state.file.key.k);
    expect(text).not.toContain(state.mxc);
    expect(await readResumeState(file, 'correct horse battery staple')).toEqual(state);

    const wrong = await errorOf(readResumeState(file, 'wrong'));
    expect(wrong.code).toBe('BAD_STATE');
    expect(wrong.message).toMatch(/wrong passphrase or the file was altered/);

    const none = await errorOf(readResumeState(file));
    expect(none.message).toMatch(/is encrypted: give --passphrase-file/);

    const json = JSON.parse(text);
    const ct = Buffer.from(json.ciphertext, 'base64');
    ct[5] = (ct[5] as number) ^ 1;
    json.ciphertext = ct.toString('base64');
    await writeFile(file, JSON.stringify(json));
    const tampered = await errorOf(readResumeState(file, 'correct horse battery staple'));
    expect(tampered.message).toMatch(/MAC mismatch/);
  });

  it('names a missing file, non-JSON and a missing field', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mxcast-state-'));
    const missing = await errorOf(readResumeState(path.join(dir, 'nope.json')));
    expect(missing.message).toMatch(/cannot read state file .*nope\.json: ENOENT/);
    await writeFile(path.join(dir, 'junk'), 'not json');
    expect((await errorOf(readResumeState(path.join(dir, 'junk')))).message).toMatch(/not JSON/);
    const { nextSeq: _drop, ...partial } = sampleState();
    await writeFile(path.join(dir, 'partial'), JSON.stringify(partial));
    expect((await errorOf(readResumeState(path.join(dir, 'partial')))).message).toMatch(
      /missing or bad 'nextSeq'/,
    );
  });

  it('carries the key epochs (docs/format.md "Key epochs") and refuses a bad schedule', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mxcast-state-'));
    const file = path.join(dir, 'state.json');
    const state = sampleState();
    state.epochs = [epochFromFile(state.file), generateEpoch(30), generateEpoch(60)];
    await writeResumeState(file, state, 'pass');
    expect((await readResumeState(file, 'pass')).epochs).toEqual(state.epochs);

    const cases: [string, unknown][] = [
      ['not increasing', [state.epochs[0], generateEpoch(60), generateEpoch(30)]],
      ['no epoch 0', [generateEpoch(5)]],
      ['epoch 0 not the file', [generateEpoch(0), generateEpoch(30)]],
      ['a short iv', [state.epochs[0], { ...generateEpoch(30), iv: 'AAAA' }]],
    ];
    for (const [what, epochs] of cases) {
      await writeFile(file, JSON.stringify({ ...state, epochs }));
      const err = await errorOf(readResumeState(file));
      expect([what, err.code]).toEqual([what, 'BAD_STATE']);
      expect(err.message).toMatch(/'epochs'/);
    }
  });

  it("reads the web page's record (pageSeq, ahead) whole, as the CLI does resuming a page's broadcast", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mxcast-state-'));
    const file = path.join(dir, 'state.json');
    const state = sampleState();
    const next = { nextSeq: state.nextSeq + 1, offset: state.offset + VOICE_BLOCK_BYTES };
    state.epochs = [epochFromFile(state.file), generateEpoch(60)];
    state.pageSeq = state.nextSeq;
    state.ahead = [{ ...next, serial: state.serial, pageSeq: next.nextSeq, granule: '103680' }];
    await writeResumeState(file, state, 'pass');
    expect(await readResumeState(file, 'pass')).toEqual(state);

    await writeFile(
      file,
      JSON.stringify({ ...state, ahead: [{ ...state.ahead![0], pageSeq: -1 }] }),
    );
    const err = await errorOf(readResumeState(file));
    expect(err.code).toBe('BAD_STATE');
    expect(err.message).toBe(`state file ${file}: missing or bad 'ahead'`);
  });
});

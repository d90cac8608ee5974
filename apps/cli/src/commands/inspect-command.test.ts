import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mxcast } from './format-commands.testkit.ts';

let dir: string;
let stream: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mxcast-inspect-'));
  const run = await mxcast(
    ['encrypt', '--info-out', path.join(dir, 'info.json'), '--block-size', '100'],
    randomBytes(350),
  );
  if (run.code !== 0) throw new Error(run.stderr);
  stream = Buffer.from(run.stdout);
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mxcast inspect', { timeout: 180_000 }, () => {
  it('lists magic, byte order and every block of a file, with no key', async () => {
    const file = path.join(dir, 'ok.mxc');
    await writeFile(file, stream);
    const run = await mxcast(['inspect', file]);
    expect(run.code, run.stderr).toBe(0);
    const text = Buffer.from(run.stdout).toString();
    expect(text).toMatch(/magic: +ok \(4d 58 43 03, MXC v3\)/);
    expect(text).toMatch(/byte order: big-endian/);
    for (const [offset, seq, len] of [
      [4, 0, 116],
      [136, 1, 116],
      [268, 2, 116],
      [400, 3, 66],
    ]) {
      expect(text).toMatch(new RegExp(`^ +${offset} +${seq} +${len} {2}ok$`, 'm'));
    }
    expect(text).toMatch(/4 block\(s\), 0 bad CRC, 0 out of sequence, 0 resync\(s\): well formed/);
  });

  it('--json from stdin: a corrupted block has a bad CRC and a resync to the next block', async () => {
    const bad = Buffer.from(stream);
    bad.writeUInt8(bad.readUInt8(166) ^ 0xff, 166);
    const run = await mxcast(['inspect', '--json'], bad);
    expect(run.code).toBe(1);
    const report = JSON.parse(Buffer.from(run.stdout).toString());
    expect(report).toMatchObject({ magic: 'ok', byteOrder: 'be', ok: false, size: stream.length });
    expect(report.blocks.map((b: { seq: number; crcOk: boolean }) => [b.seq, b.crcOk])).toEqual([
      [0, true],
      [1, false],
      [2, true],
      [3, true],
    ]);
    expect(report.resyncs).toEqual([
      { from: 136, to: 268, skipped: 132, reason: expect.stringMatching(/^CRC/) },
    ]);
    const text = Buffer.from((await mxcast(['inspect'], bad)).stdout).toString();
    expect(text).toMatch(/^ +136 +1 +116 {2}BAD$/m);
    expect(text).toMatch(/^ +136 {2}resync: CRC .*; skipped 132 byte\(s\), next block at 268$/m);
  });

  it('a mid-stream fragment (no magic, cut short) is still described', async () => {
    const run = await mxcast(['inspect', '--json'], stream.subarray(150, stream.length - 10));
    expect(run.code).toBe(1);
    const report = JSON.parse(Buffer.from(run.stdout).toString());
    expect(report.magic).toBe('bad');
    expect(report.resyncs[0]).toMatchObject({ from: 0, to: 268 - 150 });
    expect(report.blocks.map((b: { seq: number }) => b.seq)).toEqual([2]);
    expect(report.truncated).toEqual({ offset: 400 - 150, have: 72, need: 82 });
  });

  it('refuses a missing file with one line and exit 2', async () => {
    const run = await mxcast(['inspect', path.join(dir, 'nope.mxc')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^mxcast inspect: cannot read .*nope\.mxc: ENOENT/);
  });
});

import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mxcast } from './format-commands.testkit.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mxcast-encrypt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Splits an MXC v3 stream into blocks, reading the header by hand (docs/format.md). */
function blocksOf(bytes: Buffer): { seq: number; len: number; crc: number; block: Buffer }[] {
  const out = [];
  let p = 4;
  while (p < bytes.length) {
    const len = bytes.readUInt32BE(p + 8);
    out.push({
      seq: bytes.readUInt32BE(p + 4),
      len,
      crc: bytes.readUInt32BE(p + 12),
      block: bytes.subarray(p, p + 16 + len),
    });
    p += 16 + len;
  }
  return out;
}

describe('mxcast encrypt', { timeout: 180_000 }, () => {
  it('writes MXC v3 to stdout and the EncryptedFile to --info-out with mode 0600', async () => {
    const plain = randomBytes(2500);
    const info = path.join(dir, 'info.json');
    await writeFile(info, 'old', { mode: 0o644 });
    const run = await mxcast(['encrypt', '--info-out', info, '--block-size', '1000'], plain);
    expect(run.code, run.stderr).toBe(0);
    expect((await stat(info)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(info, 'utf8'));
    expect(file).toMatchObject({ v: 'org.matrix.msc4016.v3', key: { kty: 'oct', alg: 'A256GCM' } });
    // The key never appears in the command's output.
    expect(run.stderr).not.toContain(file.key.k);

    const out = Buffer.from(run.stdout);
    expect([...out.subarray(0, 4)]).toEqual([0x4d, 0x58, 0x43, 0x03]);
    const blocks = blocksOf(out);
    expect(blocks.map((b) => [b.seq, b.len])).toEqual([
      [0, 1016],
      [1, 1016],
      [2, 516],
    ]);
    // Each block checked independently with zlib and node:crypto.
    const key = Buffer.from(file.key.k, 'base64url');
    const iv = Buffer.from(file.iv, 'base64');
    const plaintexts = blocks.map(({ len, crc, block }) => {
      expect(crc).toBe(crc32(Buffer.concat([block.subarray(0, 12), block.subarray(16)])));
      const seqBytes = block.subarray(4, 8);
      const d = createDecipheriv('aes-256-gcm', key, Buffer.concat([seqBytes, iv]));
      d.setAAD(seqBytes);
      d.setAuthTag(block.subarray(16 + len - 16));
      return Buffer.concat([d.update(block.subarray(16, 16 + len - 16)), d.final()]);
    });
    expect(Buffer.concat(plaintexts)).toEqual(plain);
  });

  it('gives the magic alone for empty input, and a fresh key each run', async () => {
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    const ra = await mxcast(['encrypt', '--info-out', a]);
    const rb = await mxcast(['encrypt', '--info-out', b], Buffer.from('x'));
    expect(ra.code).toBe(0);
    expect([...ra.stdout]).toEqual([0x4d, 0x58, 0x43, 0x03]);
    expect(blocksOf(Buffer.from(rb.stdout)).map((x) => x.len)).toEqual([17]);
    const ka = JSON.parse(await readFile(a, 'utf8')).key.k;
    const kb = JSON.parse(await readFile(b, 'utf8')).key.k;
    expect(ka).not.toBe(kb);
  });

  it('refuses bad arguments with one line and exit 2', async () => {
    const argvs = [
      ['encrypt'],
      ['encrypt', '--info-out', path.join(dir, 'c.json'), '--block-size', '0'],
      ['encrypt', '--info-out', path.join(dir, 'c.json'), '--block-size', '2000000'],
      ['encrypt', '--info-out', path.join(dir, 'c.json'), '--bogus'],
    ];
    const runs = await Promise.all(argvs.map((args) => mxcast(args)));
    for (const [i, args] of argvs.entries()) {
      const run = runs[i]!;
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stdout).toHaveLength(0);
    }
    const help = await mxcast(['encrypt', '--help']);
    expect(help.code).toBe(0);
    expect(Buffer.from(help.stdout).toString()).toMatch(
      /--info-out FILE[\s\S]*--block-size BYTES[\s\S]*0600/,
    );
  });
});

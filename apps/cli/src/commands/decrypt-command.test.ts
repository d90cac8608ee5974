import { randomBytes } from 'node:crypto';
import { frameBlock, sealBlock } from '@mxcast/format/testing';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mxcast } from './format-commands.testkit.ts';

let dir: string;
let info: string;
let plain: Buffer;
let stream: Buffer;
const BLOCK = 1000;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mxcast-decrypt-'));
  info = path.join(dir, 'info.json');
  plain = randomBytes(4500);
  const run = await mxcast(['encrypt', '--info-out', info, '--block-size', String(BLOCK)], plain);
  if (run.code !== 0) throw new Error(run.stderr);
  stream = Buffer.from(run.stdout);
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Offset of block `seq` in a stream of BLOCK-byte plaintexts. */
const offsetOf = (seq: number) => 4 + seq * (BLOCK + 32);

function refreshCrc(bytes: Buffer, at: number): void {
  const len = bytes.readUInt32BE(at + 8);
  const crc = crc32(
    Buffer.concat([bytes.subarray(at, at + 12), bytes.subarray(at + 16, at + 16 + len)]),
  );
  bytes.writeUInt32BE(crc, at + 12);
}

describe('mxcast decrypt', { timeout: 180_000 }, () => {
  it('decrypts what encrypt wrote; --info may hold an event content with a file key', async () => {
    const run = await mxcast(['decrypt', '--info', info], stream);
    expect(run.code, run.stderr).toBe(0);
    expect(Buffer.from(run.stdout)).toEqual(plain);
    const event = path.join(dir, 'event.json');
    const file = JSON.parse(await readFile(info, 'utf8'));
    await writeFile(event, JSON.stringify({ msgtype: 'm.audio', body: 'x', file }));
    const viaEvent = await mxcast(['decrypt', '--info', event], stream);
    expect(Buffer.from(viaEvent.stdout)).toEqual(plain);
  });

  it('a tampered block: one line naming it, exit 1, not one byte of it written', async () => {
    const bad = Buffer.from(stream);
    bad.writeUInt8(bad.readUInt8(offsetOf(2) + 21) ^ 0x01, offsetOf(2) + 21);
    refreshCrc(bad, offsetOf(2)); // framing stays valid: only the GCM tag can tell
    const run = await mxcast(['decrypt', '--info', info], bad);
    expect(run.code).toBe(1);
    expect(Buffer.from(run.stdout)).toEqual(plain.subarray(0, 2 * BLOCK));
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^mxcast decrypt: block 2 at offset ${offsetOf(2)}: AUTH_FAILED: `),
    );
  });

  it('truncation, reordering and a wrong key each name the block and the reason', async () => {
    const blocks = [0, 1, 2, 3, 4].map((s) => stream.subarray(offsetOf(s), offsetOf(s + 1)));
    const cases: [string, Buffer, RegExp, number][] = [
      [
        'truncated',
        stream.subarray(0, offsetOf(1) + 40),
        /block 1 at offset 1036: TRUNCATED: /,
        BLOCK,
      ],
      [
        'reordered',
        Buffer.concat([stream.subarray(0, 4), blocks[0]!, blocks[2]!, blocks[1]!]),
        /block 2 at offset 1036: SEQ_GAP: .*expected 1/,
        BLOCK,
      ],
      [
        'bad magic',
        Buffer.concat([Buffer.from('MXD\x03'), stream.subarray(4)]),
        /offset 0: BAD_MAGIC/,
        0,
      ],
    ];
    // Independent runs: spawn them together (each pays tsx's start-up).
    const runs = await Promise.all(
      cases.map(([, input]) => mxcast(['decrypt', '--info', info], input)),
    );
    for (const [i, [name, , message, written]] of cases.entries()) {
      const run = runs[i]!;
      expect(run.code, name).toBe(1);
      expect(run.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(run.stderr, name).toMatch(message);
      expect(Buffer.from(run.stdout), name).toEqual(plain.subarray(0, written));
    }
    const otherInfo = path.join(dir, 'other.json');
    await mxcast(['encrypt', '--info-out', otherInfo]);
    const wrongKey = await mxcast(['decrypt', '--info', otherInfo], stream);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^mxcast decrypt: block 0 at offset 4: AUTH_FAILED: /);
    expect(wrongKey.stdout).toHaveLength(0);
  });

  it('reads a legacy little-endian zero-CRC stream made with node:crypto', async () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const parts: Uint8Array[] = [Buffer.from([0x4d, 0x58, 0x43, 0x03])];
    const texts = [randomBytes(100), randomBytes(0), randomBytes(7)];
    // Built with node:crypto from docs/format.md by the format package's test fixtures.
    texts.forEach((p, seq) => parts.push(frameBlock(seq, sealBlock(key, iv, seq, p, 'le'), 'le')));
    const legacyInfo = path.join(dir, 'legacy.json');
    await writeFile(
      legacyInfo,
      JSON.stringify({
        v: 'org.matrix.msc4016.v3',
        key: {
          kty: 'oct',
          alg: 'A256GCM',
          k: key.toString('base64url'),
          ext: true,
          key_ops: ['encrypt', 'decrypt'],
        },
        iv: iv.toString('base64').replace(/=+$/, ''),
      }),
    );
    const run = await mxcast(['decrypt', '--info', legacyInfo], Buffer.concat(parts));
    expect(run.code, run.stderr).toBe(0);
    expect(Buffer.from(run.stdout)).toEqual(Buffer.concat(texts));
  });

  it('a bad info file names the field; exit 2, nothing written', async () => {
    const bad = path.join(dir, 'bad.json');
    const file = JSON.parse(await readFile(info, 'utf8'));
    await writeFile(bad, JSON.stringify({ ...file, iv: 'AAAA' }));
    const run = await mxcast(['decrypt', '--info', bad], stream);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^mxcast decrypt: --info .*bad\.json: EncryptedFile field iv: decodes to 3 bytes/,
    );
    expect(run.stderr).not.toContain(file.key.k);
    expect(run.stdout).toHaveLength(0);
    const missing = await mxcast(['decrypt'], stream);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--info FILE is required/);
  });
});

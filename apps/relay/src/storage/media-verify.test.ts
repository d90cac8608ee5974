import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { makeStream } from '../testing/relay-fixture.ts';
import { verifyMediaFile, type VerifyRequest } from './media-verify.ts';

const dir = mkdtempSync(join(tmpdir(), 'mxcast-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 1500 blocks of 16 + 997 bytes: about 1.5 MB, so headers straddle the 512 KiB chunk boundaries.
const stream = makeStream(1500, 997);
const sha256 = createHash('sha256').update(stream.bytes).digest('base64').replace(/=+$/, '');

function fileWith(bytes: Uint8Array, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function flip(bytes: Buffer, at: number, mask: number): void {
  bytes.writeUInt8((bytes.readUInt8(at) ^ mask) & 0xff, at);
}

function request(path: string, over: Partial<VerifyRequest> = {}): VerifyRequest {
  return {
    path,
    byteLength: stream.bytes.length,
    sha256,
    walk: true,
    byteOrder: 'be',
    maxBlockLength: 64 * 1024,
    ...over,
  };
}

describe('verifyMediaFile', () => {
  it('accepts the intact file and walks every block header across chunk boundaries', async () => {
    const result = await verifyMediaFile(request(fileWith(stream.bytes, 'ok.mxc')));
    expect(result.damage).toBeNull();
    expect(result.offsets?.length).toBe(stream.offsets.length);
    for (let i = 0; i < stream.offsets.length; i++)
      expect(result.offsets?.at(i)).toBe(stream.offsets[i]);
  });

  it('finds a missing, shorter or longer file from its size alone', async () => {
    expect((await verifyMediaFile(request(join(dir, 'nope.mxc')))).damage).toBe('file missing');
    const short = fileWith(stream.bytes, 'short.mxc');
    truncateSync(short, stream.bytes.length - 10);
    expect((await verifyMediaFile(request(short))).damage).toMatch(/shorter than the \d+ stored/);
    const long = fileWith(stream.bytes, 'long.mxc');
    appendFileSync(long, Buffer.from('more'));
    expect((await verifyMediaFile(request(long))).damage).toMatch(/longer than the \d+ stored/);
  });

  it('finds one flipped ciphertext byte by the sha256 (headers intact)', async () => {
    const bytes = Buffer.from(stream.bytes);
    flip(bytes, (stream.offsets[700] as number) + 40, 0x01);
    const path = fileWith(bytes, 'flip.mxc');
    const result = await verifyMediaFile(request(path));
    expect(result.damage).toBe('sha256 does not match the completion hash');
    // Without a hash to check (cancelled media) the same file walks fine.
    expect((await verifyMediaFile(request(path, { sha256: null }))).damage).toBeNull();
  });

  it('finds a broken header when walking, without computing any CRC', async () => {
    const bytes = Buffer.from(stream.bytes);
    flip(bytes, (stream.offsets[900] as number) + 5, 0xff); // seq of block 900
    const result = await verifyMediaFile(request(fileWith(bytes, 'header.mxc'), { sha256: null }));
    expect(result.damage).toBe(`no header of block 900 at offset ${stream.offsets[900]}`);
  });

  it('keeps every synchronous step short (event-loop delay)', async () => {
    const big = makeStream(20_000, 1015); // ~20 MB
    const path = fileWith(big.bytes, 'big.mxc');
    const sha = createHash('sha256').update(big.bytes).digest('base64').replace(/=+$/, '');
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const result = await verifyMediaFile(
      request(path, { byteLength: big.bytes.length, sha256: sha }),
    );
    h.disable();
    expect(result.damage).toBeNull();
    expect(result.offsets?.length).toBe(20_000);
    // A whole-file synchronous scan of 20 MB stalls ~100 ms; chunks keep each stall to a few ms
    // (generous bound for a shared, loaded test machine).
    expect(h.max / 1e6).toBeLessThan(50);
  });
});

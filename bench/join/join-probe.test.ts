import net from 'node:net';
import { OggFlag, writeOggPage } from '@mxcast/ogg';
import { afterEach, describe, expect, it } from 'vitest';
import { JoinProbeError, joinIcecast } from './join-probe.ts';

const granuleOf = (seq: number): bigint => BigInt((seq - 1) * 12 * 960);

function page(seq: number, granule = seq < 2 ? 0n : granuleOf(seq)): Buffer {
  return Buffer.from(
    writeOggPage({
      flags: seq === 0 ? OggFlag.BOS : 0,
      granule,
      serial: 7,
      pageSeq: seq,
      packets: [new Uint8Array(seq < 2 ? 19 : 80)],
    }),
  );
}

let server: net.Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

/** A fake Icecast answering every listener with `body`, one byte per write, then closing. */
async function fakeIcecast(body: Buffer): Promise<number> {
  server = net.createServer((socket) => {
    socket.once('data', async () => {
      const all = Buffer.concat([
        Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: application/ogg\r\n\r\n'),
        body,
      ]);
      for (let i = 0; i < all.length && !socket.destroyed; i++) {
        socket.write(all.subarray(i, i + 1));
        if (i % 64 === 0) await new Promise((r) => setImmediate(r));
      }
      socket.end();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('joinIcecast', () => {
  it('measures behind-live from the first audio page granule vs the newest page sent', async () => {
    // A burst starting at page 10 while the broadcaster has sent pages up to 29: 19 pages behind.
    const port = await fakeIcecast(Buffer.concat([page(0), page(1), page(10), page(11)]));
    const sample = await joinIcecast({ port, path: '/m', sent: () => 30, unitMs: 240 }, granuleOf);
    expect(sample.behindLiveMs).toBe(19 * 240);
    expect(sample.firstAudioMs).toBeGreaterThan(0);
  });

  it('refuses a page whose granule is not the one the broadcaster gave it', async () => {
    const port = await fakeIcecast(Buffer.concat([page(0), page(1), page(5, 12345n)]));
    await expect(
      joinIcecast({ port, path: '/m', sent: () => 9, unitMs: 240 }, granuleOf),
    ).rejects.toThrow(JoinProbeError);
  });

  it('fails with JOIN_FAILED when the server closes before any audio', async () => {
    const port = await fakeIcecast(Buffer.concat([page(0), page(1)]));
    const p = joinIcecast({ port, path: '/m', sent: () => 9, unitMs: 240 }, granuleOf, 2000);
    await expect(p).rejects.toMatchObject({ code: 'JOIN_FAILED' });
    await expect(p).rejects.toThrow(/closed before any audio/);
  });
});

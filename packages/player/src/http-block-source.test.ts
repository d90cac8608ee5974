import { describe, expect, it } from 'vitest';
import { BlockWriter, createBlockCipher, generateEncryptedFile } from '@mxcast/format';
import { HttpBlockSource } from './http-block-source.ts';
import { MisalignedStart, type SourceBlock, type SourceStart } from './block-source.ts';
import { PlayerError } from './player-error.ts';

/** A stand-in for the relay's download: the file from the Range start, in chunks of `split` bytes. */
function fakeFetch(file: Uint8Array, split: (n: number) => number[]): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const range = /bytes=(\d+)-/.exec(
      String((init?.headers as Record<string, string>)?.range ?? ''),
    );
    const start = range ? Number(range[1]) : 0;
    const bytes = file.subarray(start);
    const cuts = split(bytes.length);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        let at = 0;
        for (const cut of [...cuts, bytes.length]) {
          if (cut > at) c.enqueue(bytes.slice(at, cut));
          at = Math.max(at, cut);
        }
        c.close();
      },
    });
    return new Response(body, {
      status: range ? 206 : 200,
      headers: range
        ? { 'content-range': `bytes ${start}-${file.length - 1}/${file.length}` }
        : { 'content-length': String(file.length) },
    });
  }) as typeof fetch;
}

async function collect(source: HttpBlockSource, start: SourceStart): Promise<SourceBlock[]> {
  const out: SourceBlock[] = [];
  for await (const b of source.blocks(start, new AbortController().signal)) out.push(b);
  return out;
}

describe('HttpBlockSource', async () => {
  const writer = new BlockWriter(
    await createBlockCipher(generateEncryptedFile('mxc://localhost/x')),
  );
  const blocks = [writer.magic()];
  for (let i = 0; i < 5; i++) blocks.push(await writer.write(new Uint8Array(20 + i * 3).fill(i)));
  const file = Uint8Array.from(Buffer.concat(blocks));
  const location = {
    relayUrl: 'http://127.0.0.1:1',
    serverName: 'localhost',
    mediaId: 'x'.repeat(22),
  };

  it('frames the same blocks whatever the split, at every byte', async () => {
    const whole = await collect(
      new HttpBlockSource({ location, fetch: fakeFetch(file, () => []) }),
      { kind: 'offset', offset: 0, seq: 0 },
    );
    expect(whole.map((b) => b.seq)).toEqual([0, 1, 2, 3, 4]);
    for (let cut = 1; cut < file.length; cut++) {
      const got = await collect(
        new HttpBlockSource({ location, fetch: fakeFetch(file, () => [cut]) }),
        { kind: 'offset', offset: 0, seq: 0 },
      );
      expect(got.map((b) => [b.seq, b.offset, b.size])).toEqual(
        whole.map((b) => [b.seq, b.offset, b.size]),
      );
    }
    const bytewise = await collect(
      new HttpBlockSource({
        location,
        fetch: fakeFetch(file, (n) => Array.from({ length: n }, (_, i) => i)),
      }),
      { kind: 'offset', offset: 0, seq: 0 },
    );
    expect(bytewise.map((b) => Array.from(b.ciphertext))).toEqual(
      whole.map((b) => Array.from(b.ciphertext)),
    );
  });

  it('starts at a block boundary with the seq it must see', async () => {
    const whole = await collect(
      new HttpBlockSource({ location, fetch: fakeFetch(file, () => []) }),
      { kind: 'offset', offset: 0, seq: 0 },
    );
    const third = whole[2] as SourceBlock;
    const got = await collect(new HttpBlockSource({ location, fetch: fakeFetch(file, () => []) }), {
      kind: 'offset',
      offset: third.offset as number,
      seq: 2,
    });
    expect(got.map((b) => b.seq)).toEqual([2, 3, 4]);
    // the wrong seq there is tampering …
    await expect(
      collect(new HttpBlockSource({ location, fetch: fakeFetch(file, () => []) }), {
        kind: 'offset',
        offset: third.offset as number,
        seq: 5,
      }),
    ).rejects.toMatchObject({ code: 'TAMPERED', fatal: true });
    // … unless the offset was only computed from a geometry: then it is a misaligned start
    await expect(
      collect(new HttpBlockSource({ location, fetch: fakeFetch(file, () => []) }), {
        kind: 'offset',
        offset: (third.offset as number) + 1,
        seq: 2,
        computed: true,
      }),
    ).rejects.toBeInstanceOf(MisalignedStart);
  });

  it('calls a body that stops inside a block a network error, not the end', async () => {
    const cut = file.subarray(0, file.length - 5);
    const err = await collect(new HttpBlockSource({ location, fetch: fakeFetch(cut, () => []) }), {
      kind: 'offset',
      offset: 0,
      seq: 0,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlayerError);
    expect(err).toMatchObject({ code: 'NETWORK', fatal: false });
  });
});

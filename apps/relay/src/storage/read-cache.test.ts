/** Shared history reads: one file read per (file, position, length), bounded by bytes. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaFile } from './media-file.ts';
import { ReadCache } from './read-cache.ts';

/** A load that counts its calls and answers `length` bytes of `fill` (or fewer: `short`). */
function loader(fill: number, length: number, short = 0) {
  const calls = { n: 0 };
  const load = () => {
    calls.n++;
    return Promise.resolve(Buffer.alloc(length - short, fill));
  };
  return { calls, load };
}

describe('ReadCache', () => {
  it('gives readers of the same bytes one read and one buffer, under way or finished', async () => {
    const cache = new ReadCache(1024);
    const owner = {};
    const { calls, load } = loader(1, 100);
    const [a, b] = await Promise.all([
      cache.read(owner, 0, 100, load),
      cache.read(owner, 0, 100, load),
    ]);
    const c = await cache.read(owner, 0, 100, load);
    expect(calls.n).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(cache.stats()).toEqual({ hits: 2, misses: 1, bytes: 100 });
  });

  it('keys by file, position and length', async () => {
    const cache = new ReadCache(1024);
    const [one, two] = [{}, {}];
    const { calls, load } = loader(1, 100);
    await cache.read(one, 0, 100, load);
    await cache.read(two, 0, 100, load);
    await cache.read(one, 100, 100, load);
    await cache.read(one, 0, 50, loader(1, 50).load);
    expect(calls.n).toBe(3);
    expect(cache.stats().misses).toBe(4);
  });

  it('holds at most maxBytes, the least recently used going first', async () => {
    const cache = new ReadCache(250);
    const owner = {};
    const { calls, load } = loader(1, 100);
    await cache.read(owner, 0, 100, load); // A
    await cache.read(owner, 100, 100, load); // B
    await cache.read(owner, 0, 100, load); // A again: B is now the oldest
    await cache.read(owner, 200, 100, load); // C: 300 > 250, B goes
    expect(cache.stats().bytes).toBe(200);
    await cache.read(owner, 0, 100, load); // A kept
    expect(calls.n).toBe(3);
    await cache.read(owner, 100, 100, load); // B was dropped: read again
    expect(calls.n).toBe(4);
    expect(cache.stats().bytes).toBeLessThanOrEqual(250);
  });

  it('keeps no short read, no failed read, nothing with maxBytes 0, nothing of a dropped file', async () => {
    const cache = new ReadCache(1024);
    const owner = {};
    const short = loader(1, 100, 10);
    await cache.read(owner, 0, 100, short.load);
    await cache.read(owner, 0, 100, short.load);
    expect(short.calls.n).toBe(2);
    const failing = () => Promise.reject(new Error('EIO'));
    await expect(cache.read(owner, 500, 10, failing)).rejects.toThrow('EIO');
    const after = loader(2, 10);
    await cache.read(owner, 500, 10, after.load);
    expect(after.calls.n).toBe(1);
    cache.drop(owner);
    expect(cache.stats().bytes).toBe(0);
    // A read under way when its file is dropped is answered but not kept.
    let release = (_: Buffer) => {};
    const slow = cache.read(owner, 0, 10, () => new Promise((r) => (release = r)));
    cache.drop(owner);
    release(Buffer.alloc(10));
    await slow;
    expect(cache.stats().bytes).toBe(0);
    const none = new ReadCache(0);
    const l = loader(1, 10);
    await none.read(owner, 0, 10, l.load);
    await none.read(owner, 0, 10, l.load);
    expect(l.calls.n).toBe(2);
  });
});

describe('MediaFile with a read cache', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shares reads of the file, and forgets them when the file closes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mxcast-read-cache-'));
    const path = join(dir, 'm');
    writeFileSync(path, Buffer.from('0123456789'));
    const cache = new ReadCache(1024);
    const file = new MediaFile(path, cache);
    const a = await file.readAt(2, 4);
    const b = await file.readAt(2, 4);
    expect(a.toString()).toBe('2345');
    expect(b).toBe(a);
    // At the end of the file a read is short: answered, not kept.
    expect((await file.readAt(8, 4)).toString()).toBe('89');
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, bytes: 4 });
    await file.close();
    expect(cache.stats().bytes).toBe(0);
  });
});

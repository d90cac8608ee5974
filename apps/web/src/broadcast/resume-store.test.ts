/**
 * The resume store against fake-indexeddb (the IndexedDB spec's reference-tested implementation,
 * the one packages/matrix uses) and Node's WebCrypto: the parts a browser would run.
 */
import { IDBFactory } from 'fake-indexeddb';
import { generateEncryptedFile, generateEpoch } from '@mxcast/format';
import { describe, expect, it } from 'vitest';
import { findPreset, presetGeometry } from './broadcast-presets.ts';
import { ResumeStore, formatAgo, type WebResumeState } from './resume-store.ts';

function stateFor(mxc: string, updatedTs: number, nextSeq = 12): WebResumeState {
  const file = generateEncryptedFile(mxc);
  return {
    version: 1,
    relayUrl: 'http://127.0.0.1:1',
    mxc,
    userId: '@alice:test',
    deviceId: 'ALICEDEV',
    roomId: '!room:test',
    broadcastId: 'b1',
    announcementEventId: '$ann',
    file,
    epochs: [{ startSeq: 0, key: file.key, iv: file.iv }, generateEpoch(40)],
    nextSeq,
    offset: 8 + nextSeq * 4096,
    serial: 0x1234abcd,
    pageSeq: nextSeq,
    granule: '1152000',
    preset: 'voice',
    geometry: presetGeometry(findPreset('voice')),
    title: 'Morning show',
    startedTs: 1000,
    updatedTs,
  };
}

describe('ResumeStore', () => {
  it('round-trips a sealed state, lists only this device, and clears it', async () => {
    const factory = new IDBFactory();
    const store = await ResumeStore.open(factory);
    const a = stateFor('mxc://test/a', 5000);
    const b = stateFor('mxc://test/b', 9000);
    const other = { ...stateFor('mxc://test/c', 7000), deviceId: 'OTHER' };
    await Promise.all([store.save(a), store.save(b), store.save(other)]);
    expect(await store.load('mxc://test/a')).toEqual(a);
    const listed = await store.list({ userId: '@alice:test', deviceId: 'ALICEDEV' });
    expect(listed.map((s) => [s.mxc, s.title, s.updatedTs])).toEqual([
      ['mxc://test/b', 'Morning show', 9000],
      ['mxc://test/a', 'Morning show', 5000],
    ]);
    // A later save replaces the earlier one; saves land in call order.
    void store.save(stateFor('mxc://test/a', 6000, 20));
    await store.save(stateFor('mxc://test/a', 6500, 21));
    expect((await store.load('mxc://test/a'))?.nextSeq).toBe(21);
    await store.clear('mxc://test/a');
    expect(await store.load('mxc://test/a')).toBeNull();
    store.close();
  });

  it('keeps one non-extractable wrapping key across opens; the record holds no key in clear', async () => {
    const factory = new IDBFactory();
    const first = await ResumeStore.open(factory);
    const state = stateFor('mxc://test/k', 1);
    await first.save(state);
    first.close();
    // A reload: a new open reads the same wrapping key and opens the state.
    const second = await ResumeStore.open(factory);
    expect((await second.load('mxc://test/k'))?.file.key.k).toBe(state.file.key.k);
    second.close();
    // The raw records: the wrapping key refuses export, the state's key is nowhere in clear.
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = factory.open('mxcast-broadcast-resume');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const get = <T>(store: string, key: string) =>
      new Promise<T>((resolve, reject) => {
        const r = db.transaction(store).objectStore(store).get(key);
        r.onsuccess = () => resolve(r.result as T);
        r.onerror = () => reject(r.error);
      });
    const wrap = await get<CryptoKey>('keys', 'wrap');
    expect(wrap.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('raw', wrap)).rejects.toThrow();
    const record = await get<{ sealed: ArrayBuffer }>('states', 'mxc://test/k');
    const asText = Buffer.from(record.sealed).toString('latin1');
    expect(asText).not.toContain(state.file.key.k);
    expect(JSON.stringify({ ...record, sealed: undefined })).not.toContain(state.file.key.k);
    db.close();
  });

  it('a state sealed under another wrapping key, or moved to another mxc, does not open', async () => {
    const factoryA = new IDBFactory();
    const storeA = await ResumeStore.open(factoryA);
    await storeA.save(stateFor('mxc://test/x', 1));
    // Copy the sealed record into a database whose wrapping key differs.
    const factoryB = new IDBFactory();
    const storeB = await ResumeStore.open(factoryB);
    const read = (f: IDBFactory) =>
      new Promise<IDBDatabase>((resolve, reject) => {
        const r = f.open('mxcast-broadcast-resume');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const dbA = await read(factoryA);
    const record = await new Promise<Record<string, unknown>>((resolve) => {
      const r = dbA.transaction('states').objectStore('states').get('mxc://test/x');
      r.onsuccess = () => resolve(r.result as Record<string, unknown>);
    });
    const dbB = await read(factoryB);
    const put = (value: Record<string, unknown>) =>
      new Promise<void>((resolve, reject) => {
        const tx = dbB.transaction('states', 'readwrite');
        tx.objectStore('states').put(value);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
    await put(record);
    expect(await storeB.load('mxc://test/x')).toBeNull();
    // Same wrapping key, but the record relabelled as another media: the mxc is GCM's AAD.
    const dbA2 = dbA;
    await new Promise<void>((resolve) => {
      const tx = dbA2.transaction('states', 'readwrite');
      tx.objectStore('states').put({ ...record, mxc: 'mxc://test/y' });
      tx.oncomplete = () => resolve();
    });
    expect(await storeA.load('mxc://test/y')).toBeNull();
    expect(await storeA.load('mxc://test/x')).not.toBeNull();
    for (const d of [dbA, dbB]) d.close();
    storeA.close();
    storeB.close();
  });

  it('formats how long ago', () => {
    expect(formatAgo(23_400)).toBe('0:23');
    expect(formatAgo(725_000)).toBe('12:05');
    expect(formatAgo(3_723_000)).toBe('1:02:03');
    expect(formatAgo(-5)).toBe('0:00');
  });
});

import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRelay } from '../adapter/node-relay.ts';
import { makeStream } from '../testing/relay-fixture.ts';
import { newMediaId } from './media-id.ts';
import { repairDataDir } from './media-repair.ts';

let dataDir: string;
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function mediaFile(bytes: Uint8Array, ageMs = 0): string {
  const id = newMediaId();
  mkdirSync(join(dataDir, 'media'), { recursive: true });
  const path = join(dataDir, 'media', `${id}.mxc`);
  writeFileSync(path, bytes);
  const when = new Date(Date.now() - ageMs);
  utimesSync(path, when, when);
  return id;
}

describe('repairDataDir', () => {
  it('tells complete from live by whole blocks and age, skips files with no valid block', () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-repair-'));
    const s = makeStream(12, 200);
    const old = mediaFile(s.bytes, 5000);
    const recent = mediaFile(s.bytes);
    const torn = mediaFile(
      Buffer.concat([s.bytes, s.blocks[0]?.subarray(0, 30) ?? new Uint8Array()]),
      5000,
    );
    const junk = mediaFile(randomBytes(300));
    writeFileSync(join(dataDir, 'media', 'not-a-media-id.mxc'), s.bytes);
    const report = repairDataDir({ dataDir, limits: { maxLiveDurationMs: 1000 } });
    const byId = new Map(report.recovered.map((m) => [m.id, m]));
    expect(byId.get(old)).toMatchObject({ state: 'complete', byteLength: s.bytes.length });
    expect(byId.get(old)?.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(byId.get(recent)).toMatchObject({ state: 'live', sha256: null });
    // A partial last block: live, so the start-up recovery cuts it as after a crash.
    expect(byId.get(torn)).toMatchObject({ state: 'live', byteLength: s.bytes.length });
    expect(report.skipped).toEqual([{ id: junk, why: 'no valid block (BAD_MAGIC)' }]);
    expect(report.recovered).toHaveLength(3);
    expect(report.owner).toBe('@repair:localhost');
    expect(existsSync(join(dataDir, 'media', `${junk}.mxc`))).toBe(true);
    // A second run finds nothing more to do.
    expect(repairDataDir({ dataDir }).recovered).toEqual([]);
  });

  it('moves an unreadable relay.db aside and starts a new one', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-repair-'));
    const garbage = randomBytes(4096);
    writeFileSync(join(dataDir, 'relay.db'), garbage);
    const id = mediaFile(makeStream(3).bytes);
    const report = repairDataDir({ dataDir, serverName: 'relay.example' });
    expect(report.movedAside).toMatch(/relay\.db\.unreadable-/);
    expect(readFileSync(report.movedAside as string).equals(garbage)).toBe(true);
    expect(report.recovered.map((m) => [m.id, m.state])).toEqual([[id, 'live']]);
    expect(report.owner).toBe('@repair:relay.example');
    const relay = await startRelay({ dataDir, port: 0, serverName: 'relay.example' });
    try {
      const res = await fetch(
        `${relay.url}/_matrix/media/unstable/org.matrix.msc4016/index/relay.example/${id}`,
      );
      expect(((await res.json()) as { state: string }).state).toBe('live');
    } finally {
      await relay.close();
    }
  });

  it('refuses while a relay runs on the data dir', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mxcast-repair-'));
    const relay = await startRelay({ dataDir, port: 0 });
    try {
      expect(() => repairDataDir({ dataDir })).toThrow(/in use by another relay/);
    } finally {
      await relay.close();
    }
  });
});

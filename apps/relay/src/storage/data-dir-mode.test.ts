/** Modes of the data dir: 0700 directories and 0600 files, for a new dir and an old loose one. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayDatabase } from './relay-database.ts';
import { MediaFile } from './media-file.ts';
import { secureDataDir } from './data-dir-mode.ts';

const mode = (path: string) => statSync(path).mode & 0o777;
const made: string[] = [];
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mxcast-mode-'));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('data dir modes', () => {
  it('a new data dir: directories 0700, relay.db and its WAL/SHM 0600, media files 0600', async () => {
    const dir = join(temp(), 'data');
    const db = new RelayDatabase(dir);
    db.insertToken('ab'.repeat(32), '@a:localhost', Date.now()); // writes the WAL
    const file = new MediaFile(join(dir, 'media', 'x.mxc'));
    file.append(new Uint8Array([1, 2, 3]));
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'media'))).toBe(0o700);
    for (const name of ['relay.db', 'relay.db-wal', 'relay.db-shm'])
      expect([name, mode(join(dir, name))]).toEqual([name, 0o600]);
    expect(mode(join(dir, 'media', 'x.mxc'))).toBe(0o600);
    await file.close();
    db.close();
  });

  it('tightens an existing loose data dir on open', () => {
    const dir = temp();
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'media'), { mode: 0o777 });
    chmodSync(join(dir, 'media'), 0o777);
    for (const path of [join(dir, 'relay.lock'), join(dir, 'media', 'old.mxc')]) {
      writeFileSync(path, 'x');
      chmodSync(path, 0o644);
    }
    secureDataDir(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'media'))).toBe(0o700);
    expect(mode(join(dir, 'relay.lock'))).toBe(0o600);
    expect(mode(join(dir, 'media', 'old.mxc'))).toBe(0o600);
    expect(mode(join(dir, 'relay.db'))).toBe(0o600);
  });
});

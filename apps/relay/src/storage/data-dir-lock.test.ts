import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir, lockText } from './data-dir-lock.ts';

let dir: string;
/** Another live process: the "other relay" whose lock must be respected. */
let other: ChildProcess;

beforeAll(() => {
  other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
});
afterAll(() => {
  other.kill('SIGKILL');
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mxcast-lock-'));
  return () => rmSync(dir, { recursive: true, force: true });
});

const lockFile = () => join(dir, 'relay.lock');

describe('data directory lock', () => {
  it('writes pid and start time, refuses a second relay in this process, and releases', () => {
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile(), 'utf8')).toBe(lockText(process.pid));
    expect(readFileSync(lockFile(), 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+$`));
    expect(() => lockDataDir(dir)).toThrow(/in use by another relay in this process/);
    release();
    expect(existsSync(lockFile())).toBe(false);
    lockDataDir(dir)();
  });

  it('refuses while the process that wrote the lock runs (same pid, same start time)', () => {
    writeFileSync(lockFile(), lockText(other.pid!));
    expect(() => lockDataDir(dir)).toThrow(
      new RegExp(`in use by relay process ${other.pid} \\(remove .*relay\\.lock`),
    );
    expect(readFileSync(lockFile(), 'utf8')).toBe(lockText(other.pid!));
  });

  it('refuses a pid-only lock (older relays) whose pid is alive', () => {
    writeFileSync(lockFile(), String(other.pid));
    expect(() => lockDataDir(dir)).toThrow(/in use by relay process/);
  });

  it('takes over when the pid now belongs to another process (start time differs)', () => {
    const [pid, start] = lockText(other.pid!).split(' ');
    writeFileSync(lockFile(), `${pid} ${Number(start) + 12345}`);
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile(), 'utf8')).toBe(lockText(process.pid));
    release();
  });

  it('takes over a lock of a process that is gone, or one it cannot read', async () => {
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    for (const text of [`${gone.pid} 1`, String(gone.pid), 'not a pid', '']) {
      writeFileSync(lockFile(), text);
      const release = lockDataDir(dir);
      expect(readFileSync(lockFile(), 'utf8')).toBe(lockText(process.pid));
      release();
    }
  });
});

/**
 * One relay per data directory: two processes appending to the same media files would interleave
 * blocks. `<data>/relay.lock` holds the running relay's pid; a lock left by a process that is gone
 * (kill -9, power cut) is taken over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Data directories locked by relays in this process (the pid file cannot tell them apart). */
const lockedHere = new Set<string>();

export function lockDataDir(dataDir: string): () => void {
  const path = resolve(join(dataDir, 'relay.lock'));
  const me = String(process.pid);
  if (lockedHere.has(path))
    throw new Error(`data directory ${dataDir} is in use by another relay in this process`);
  try {
    writeFileSync(path, me, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && String(pid) !== me && isAlive(pid)) {
      throw new Error(
        `data directory ${dataDir} is in use by relay process ${pid} (remove ${path} if no relay runs there)`,
      );
    }
    writeFileSync(path, me);
  }
  lockedHere.add(path);
  return () => {
    lockedHere.delete(path);
    try {
      if (readFileSync(path, 'utf8').trim() === me) unlinkSync(path);
    } catch {
      // already gone
    }
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One relay per data directory: two processes appending to the same media files would interleave
 * blocks. `<data>/relay.lock` holds the running relay's pid and, on Linux, its start time (field
 * 22 of /proc/<pid>/stat, in clock ticks since boot); a lock left by a process that is gone
 * (kill -9, power cut) is taken over.
 *
 * Why the start time: a pid alone is reused. After a container restart or a reboot the old
 * relay's pid often belongs to another, unrelated process, and a pid-only check would refuse to
 * start until someone deletes the lock by hand. A live process with that pid and a different
 * start time is not the relay that wrote the lock.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FILE_MODE } from './data-dir-mode.ts';

/** Data directories locked by relays in this process (the pid file cannot tell them apart). */
const lockedHere = new Set<string>();

export function lockDataDir(dataDir: string): () => void {
  const path = resolve(join(dataDir, 'relay.lock'));
  const me = lockText(process.pid);
  if (lockedHere.has(path))
    throw new Error(`data directory ${dataDir} is in use by another relay in this process`);
  try {
    writeFileSync(path, me, { flag: 'wx', mode: FILE_MODE });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = parseLock(readFileSync(path, 'utf8'));
    if (holder && holder.pid !== process.pid && holds(holder)) {
      throw new Error(
        `data directory ${dataDir} is in use by relay process ${holder.pid} (remove ${path} if no relay runs there)`,
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

interface LockHolder {
  pid: number;
  /** Null in a lock written without /proc (or by a relay before start times were recorded). */
  startTime: string | null;
}

/** `<pid>` or `<pid> <start time>`. */
export function lockText(pid: number): string {
  const start = processStartTime(pid);
  return start === null ? String(pid) : `${pid} ${start}`;
}

function parseLock(text: string): LockHolder | null {
  const m = /^(\d+)(?:\s+(\d+))?\s*$/.exec(text.trim());
  if (!m) return null;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, startTime: m[2] ?? null } : null;
}

/** Whether the process that wrote the lock still runs. */
function holds(holder: LockHolder): boolean {
  if (!isAlive(holder.pid)) return false;
  if (holder.startTime === null) return true;
  const now = processStartTime(holder.pid);
  // No /proc to ask: a live pid is all we know, so the lock stands.
  return now === null || now === holder.startTime;
}

/** Field 22 (starttime) of /proc/<pid>/stat, or null where there is no procfs (proc(5)). */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may hold spaces: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so field 22 is fields[19].
    const start = fields[19];
    return start && /^\d+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

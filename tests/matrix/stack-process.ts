/**
 * One process of the Matrix stack (Synapse, the relay, nginx): wait until it answers HTTP, stop
 * it with SIGTERM and SIGKILL after a grace period. A process that dies while being waited for
 * fails the start with the tail of its log, which is where Synapse and nginx say why.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface StackProcess {
  name: string;
  child: ChildProcess;
  /** Its stdout and stderr. */
  log: string;
}

function logTail(p: StackProcess, extra?: string): string {
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').slice(-3000) : '');
  return [read(p.log), extra ? read(extra) : ''].filter(Boolean).join('\n');
}

/** Polls `url` until it answers one of `statuses`; rejects if the process exits first. */
export async function waitForHttp(
  p: StackProcess,
  url: string,
  timeoutMs: number,
  statuses: number[] = [200],
  extraLog?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(
        `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before answering ${url}:\n${logTail(p, extraLog)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (statuses.includes(res.status)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String((err as Error).cause ?? err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${p.name} did not answer ${url} in ${timeoutMs} ms (${last}):\n${logTail(p, extraLog)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export function waitForExitOrKill(p: StackProcess, graceMs: number): Promise<void> {
  const { child } = p;
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Shared parts of the hostile-client suite (docs/operations.md "Limits"): a real `mxcast relay`
 * process with an optional config file, and readings of what it costs the machine — resident
 * memory and CPU time from /proc — so each attack can assert a bounded outcome.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { startRelayProcess, tempDir, useStarted } from '../capture/capture-harness.ts';

export interface HostileRelay {
  url: string;
  port: number;
  dataDir: string;
  /** An upload token of `@attacker:localhost`. */
  token: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far (its log lines). */
  readonly stderr: string;
  /** Resident memory now, MiB. */
  rssMb(): number;
  /** User + system CPU time used so far, ms. */
  cpuMs(): number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, data dir and config. */
  restart(): Promise<void>;
}

export interface HostileRelayOptions {
  /** Written to a `--config` JSON file (docs/operations.md). */
  config?: Record<string, unknown>;
  /** Further `mxcast relay` arguments. */
  args?: string[];
  /** Reuse a data dir (a restart test). */
  dataDir?: string;
}

export async function startHostileRelay(options: HostileRelayOptions = {}): Promise<HostileRelay> {
  const args = [...(options.args ?? [])];
  if (options.config) {
    const file = path.join(tempDir('mxcast-hostile-config-'), 'relay.json');
    writeFileSync(file, JSON.stringify(options.config));
    args.unshift('--config', file);
  }
  const dataDir = options.dataDir ?? tempDir('mxcast-hostile-');
  const relay = await startRelayProcess({ user: '@attacker:localhost', dataDir, args });
  // Object.assign keeps relay's getters (child, stderr): a restart is seen by the readings.
  return Object.assign(relay, {
    rssMb: () => rssMb(relay.child.pid ?? 0),
    cpuMs: () => cpuMs(relay.child.pid ?? 0),
  });
}

/** Starts a relay before the file's tests and kills it after them. */
export function useHostileRelay(options: HostileRelayOptions = {}): () => HostileRelay {
  return useStarted(
    'the hostile relay',
    () => startHostileRelay(options),
    (r) => r.kill(),
  );
}

/** POST /_matrix/media/v1/create as the token's user (200 expected); returns "server/id". */
export async function createMedia(relay: HostileRelay, token = relay.token): Promise<string> {
  const res = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  const { content_uri } = (await res.json()) as { content_uri: string };
  return content_uri.slice('mxc://'.length);
}

/** Resident set size of a process, MiB (VmRSS in /proc/PID/status). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time of a process (utime + stime, /proc/PID/stat fields 14 and 15), ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // CLK_TCK is 100 on Linux
}

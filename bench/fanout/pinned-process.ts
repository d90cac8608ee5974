/**
 * Starting a server or the load generator pinned to one core (`taskset -c <core>`, which execs
 * the command, so the child's pid is the server's own), waiting for it to listen, and stopping
 * it by that pid — first SIGTERM, then SIGKILL after a bounded wait.
 *
 * On a shared machine the figures depend on the CPU share the pinned process gets. Linux's
 * autogroup scheduling (sched(7) "The autogroup feature") shares CPU between sessions first,
 * so `nice` inside our session changes nothing against other sessions; each process therefore
 * starts in its own session (setsid) whose autogroup nice is lowered where allowed. A hostile
 * row's crowd also runs under SCHED_IDLE (sched(7); `chrt --idle 0`, which execs like taskset):
 * the kernel preempts an idle-policy task as soon as a normal one on its core wakes, so the load
 * generator beside it is never kept waiting for the crowd's slice.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * MXCAST_BENCH_OUTPUT_DIR=DIR: everything a bench process prints also goes into
 * DIR/<name>-<pid>.log (only its last 4 KB are kept otherwise): what node flags such as --trace-gc
 * print, for a diagnosis run (docs/hostile-bench.md). Unset: undefined. Not a directory: throws.
 */
export function outputDirFromEnv(): string | undefined {
  const dir = process.env.MXCAST_BENCH_OUTPUT_DIR;
  if (dir === undefined || dir === '') return undefined;
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // missing: the error below
  }
  if (!isDir) throw new Error(`MXCAST_BENCH_OUTPUT_DIR: '${dir}' is not a directory`);
  return dir;
}

/** The core every server under test runs on (the relay, Icecast, the write floor's writer). */
export const SERVER_CORE = 0;
/** The load generator's core (and the write floor's reader). */
export const GENERATOR_CORE = 1;

/** Autogroup niceness of the servers and the load generator (lower runs first). */
export const PRIORITY = -10;

function raiseAutogroupPriority(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(PRIORITY));
    return true;
  } catch {
    return false; // no autogroups, or not allowed: run at the normal share
  }
}

export class PinnedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  /** Whether the raised priority took effect. */
  readonly prioritised: boolean;
  #output = '';
  #exited = false;

  constructor(
    name: string,
    core: number,
    command: string,
    args: string[],
    options: SpawnOptions = {},
    /** Under SCHED_IDLE (see above): a hostile row's crowd. */
    idlePolicy = false,
  ) {
    this.name = name;
    // Checked before anything is started: a misspelt directory stops the bench with one line.
    const tee = outputDirFromEnv();
    const pinned = ['taskset', '-c', String(core), command, ...args];
    const [first, ...rest] = idlePolicy ? ['chrt', '--idle', '0', ...pinned] : pinned;
    this.child = spawn(first as string, rest, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      ...options,
    });
    this.prioritised = raiseAutogroupPriority(this.child.pid);
    const keep = (d: Buffer): void => {
      this.#output = (this.#output + d.toString('utf8')).slice(-4000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    if (tee && this.child.pid !== undefined) {
      const file = `${name.replace(/\s+/g, '-')}-${this.child.pid}.log`;
      const out = createWriteStream(path.join(tee, file));
      // A diagnosis copy that cannot be written (disk full) must not end the bench.
      out.on('error', (err) => {
        this.child.stdout?.unpipe(out);
        this.child.stderr?.unpipe(out);
        this.#output += `\n(MXCAST_BENCH_OUTPUT_DIR: ${err.message})`;
      });
      // Two streams into one file: neither may end it while the other still writes.
      this.child.stdout?.pipe(out, { end: false });
      this.child.stderr?.pipe(out, { end: false });
      this.child.once('close', () => out.end());
    }
    this.child.once('exit', () => (this.#exited = true));
  }

  /** The scheduling policy the kernel reports for the process (sched(7): 0 normal, 5 idle). */
  get policy(): number | null {
    try {
      const m = /^policy\s*:\s*(\d+)/m.exec(readFileSync(`/proc/${this.pid}/sched`, 'utf8'));
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** The last few KB the process printed, for error messages. */
  get output(): string {
    return this.#output.trim();
  }

  /** The first match of `pattern` in what the process printed; rejects after `timeoutMs`. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = pattern.exec(this.#output);
      if (m) return m;
      if (this.#exited) throw new Error(`${this.name} exited while starting: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `${this.name} printed nothing matching ${pattern} within ${timeoutMs} ms: ${this.output}`,
    );
  }

  async stop(graceMs = 3000): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  process: PinnedProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.exited) throw new Error(`${process.name} exited while starting: ${process.output}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${process.name} did not listen on port ${port} within ${timeoutMs} ms: ${process.output}`,
  );
}

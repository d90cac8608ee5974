/**
 * Shared parts of the capture end-to-end tests: real relays (in-process or a spawned `mxcast
 * relay` process that can be killed), the real `mxcast` bin, and real audio tools (ffprobe,
 * opusinfo, opusdec) on the decrypted result.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { readWav } from '@mxcast/audio';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { createBlockCipher, decryptAll, type EncryptedFile } from '@mxcast/format';
import { createToken, startRelay, type RelayOptions, type RunningRelay } from '@mxcast/relay';

const exec = promisify(execFile);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = path.join(root, 'apps/cli/bin/mxcast.js');

export function tempDir(prefix = 'mxcast-capture-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface InProcessRelay {
  relay: RunningRelay;
  url: string;
  token: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function startInProcessRelay(
  options: Partial<RelayOptions> = {},
): Promise<InProcessRelay> {
  const dataDir = tempDir('mxcast-relay-');
  const token = createToken(dataDir, '@broadcaster:localhost');
  const relay = await startRelay({ port: 0, host: '127.0.0.1', ...options, dataDir });
  return { relay, url: relay.url, token, dataDir, close: () => relay.close() };
}

/**
 * Starts an in-process relay before the file's tests and closes it after them; call at the top
 * level of a test file. The returned getter gives the running relay inside tests.
 */
export function useInProcessRelay(options: Partial<RelayOptions> = {}): () => InProcessRelay {
  return useStarted(
    'the in-process relay',
    () => startInProcessRelay(options),
    (r) => r.close(),
  );
}

/**
 * Something started before the file's (or describe block's) tests and stopped after them; the
 * returned getter gives it inside tests and says `what` was used too early otherwise.
 */
export function useStarted<T>(
  what: string,
  start: () => Promise<T>,
  stop: (started: T) => Promise<unknown>,
): () => T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    if (started !== undefined) await stop(started);
  });
  return () => {
    if (started === undefined) throw new Error(`${what} is used before beforeAll started it`);
    return started;
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** `mxcast ARGS` (a relay) as a child process, resolved once its output names `port`. */
export async function spawnUntilListening(
  args: string[],
  port: number,
  onStderr?: (s: string) => void,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (onStderr) child.stderr?.on('data', (d: Buffer) => onStderr(d.toString()));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(`:${port}`)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`relay exited ${code}: ${out}`)));
  });
  return child;
}

export function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A `mxcast relay` process on its own port and data dir, which a test can kill and restart. */
export interface RelayProcess {
  url: string;
  token: string;
  port: number;
  dataDir: string;
  /** The running process; `restart` replaces it. */
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far (its log lines). */
  readonly stderr: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the relay again on the same port and data dir (its stored broadcasts survive). */
  restart(): Promise<void>;
}

export interface RelayProcessOptions {
  /** The token's user (default `@broadcaster:localhost`). */
  user?: string;
  /** An existing data dir (default: a new temporary one). */
  dataDir?: string;
  /** Further `mxcast relay` arguments (e.g. `--config FILE`). */
  args?: string[];
}

export async function startRelayProcess(options: RelayProcessOptions = {}): Promise<RelayProcess> {
  const dataDir = options.dataDir ?? tempDir('mxcast-relay-');
  const token = createToken(dataDir, options.user ?? '@broadcaster:localhost');
  const port = await freePort();
  const args = ['relay', '--port', String(port), '--host', '127.0.0.1', '--data', dataDir];
  args.push(...(options.args ?? []));
  let stderr = '';
  const spawnIt = () => spawnUntilListening(args, port, (s) => (stderr += s));
  let child = await spawnIt();
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    port,
    dataDir,
    get child() {
      return child;
    },
    get stderr() {
      return stderr;
    },
    kill: (signal = 'SIGKILL') => killAndWait(child, signal),
    async restart() {
      child = await spawnIt();
    },
  };
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves with exit code and output once the process ends. */
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  stdout(): string;
  /** Everything written to stdout, when started with `binaryStdout`. */
  stdoutBytes(): Buffer;
  stderr(): string;
  /** Resolves when stdout or stderr contains `text`. */
  waitFor(text: string | RegExp, ms?: number): Promise<void>;
}

export function runMxcast(
  args: string[],
  stdin?: Uint8Array,
  env: NodeJS.ProcessEnv = process.env,
  binaryStdout = false,
): CliRun {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  const stdoutChunks: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const poke = () => waiters.forEach((w) => w());
  child.stdout?.on('data', (d: Buffer) => {
    if (binaryStdout) stdoutChunks.push(d);
    else stdout += d.toString();
    poke();
  });
  child.stderr?.on('data', (d: Buffer) => ((stderr += d.toString()), poke()));
  if (stdin) child.stdin?.end(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength));
  else child.stdin?.end();
  const done = new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the pipes drain before reading them.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
  return {
    child,
    done,
    stdout: () => stdout,
    stdoutBytes: () => Buffer.concat(stdoutChunks),
    stderr: () => stderr,
    waitFor(text, ms = 60_000) {
      const seen = () =>
        typeof text === 'string'
          ? stdout.includes(text) || stderr.includes(text)
          : text.test(stdout) || text.test(stderr);
      return new Promise<void>((resolve, reject) => {
        if (seen()) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${text}; stderr: ${stderr}`)),
          ms,
        );
        const check = () => {
          if (seen()) {
            clearTimeout(timer);
            resolve();
          }
        };
        waiters.push(check);
        child.once('exit', () => {
          setImmediate(() => {
            if (!seen()) {
              clearTimeout(timer);
              reject(new Error(`exited before ${text}; stderr: ${stderr}`));
            }
          });
        });
      });
    },
  };
}

/** `mxcast capture --relay <url> --token <token> …args`. */
export function runCapture(relay: { url: string; token: string }, args: string[]): CliRun {
  return runMxcast(['capture', '--relay', relay.url, '--token', relay.token, ...args]);
}

export function linkFrom(stdout: string): string {
  const link = stdout.split('\n').find((l) => l.startsWith('http'));
  if (!link) throw new Error(`no listen link in stdout: ${stdout}`);
  return link.trim();
}

export interface Downloaded {
  /** The stored MXC v3 bytes. */
  wire: Uint8Array;
  /** Decrypted plaintexts (Ogg pages), by seq. */
  pages: { seq: number; plaintext: Uint8Array; size: number }[];
  /** The pages concatenated: an .opus file. */
  opus: Uint8Array;
  file: EncryptedFile;
}

/** Downloads a finished broadcast and decrypts it block by block (packages/format). */
export async function downloadAndDecrypt(link: string): Promise<Downloaded> {
  const parsed = parseListenLink(link);
  const client = new MediaClient({ baseUrl: parsed.relayUrl });
  const res = await client.download(parsed.mxc);
  const wire = new Uint8Array(await res.arrayBuffer());
  const file = parsed.file as EncryptedFile;
  const cipher = await createBlockCipher(file);
  const blocks = await decryptAll(cipher, wire);
  const pages = blocks.map((b, i) => ({
    seq: b.seq,
    plaintext: b.plaintext,
    size: (blocks[i + 1]?.offset ?? wire.length) - b.offset,
  }));
  const opus = Buffer.concat(pages.map((p) => p.plaintext));
  return { wire, pages, opus, file };
}

export async function ffprobe(file: string): Promise<{
  duration: number;
  channels: number;
  codec: string;
  tags: Record<string, string>;
}> {
  const { stdout } = await exec('ffprobe', [
    '-v',
    'error',
    '-show_streams',
    '-show_format',
    '-of',
    'json',
    file,
  ]);
  const json = JSON.parse(stdout) as {
    streams: { codec_name: string; channels: number; tags?: Record<string, string> }[];
    format: { duration: string; tags?: Record<string, string> };
  };
  const stream = json.streams[0]!;
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...json.format.tags, ...stream.tags })) {
    tags[k.toLowerCase()] = v;
  }
  return {
    duration: Number(json.format.duration),
    channels: stream.channels,
    codec: stream.codec_name,
    tags,
  };
}

export async function opusinfo(file: string): Promise<string> {
  const { stdout, stderr } = await exec('opusinfo', [file]);
  return stdout + stderr;
}

/** Decodes with opusdec at 48 kHz; returns the samples (float, interleaved) and channels. */
export async function opusdec(file: string): Promise<{ samples: Float32Array; channels: number }> {
  const wavPath = file.replace(/\.opus$/, '') + '.dec.wav';
  await exec('opusdec', ['--quiet', '--rate', '48000', file, wavPath]);
  const wav = readWav(new Uint8Array(await readFile(wavPath)));
  return { samples: wav.samples, channels: wav.channels };
}

export function writeTemp(dir: string, name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

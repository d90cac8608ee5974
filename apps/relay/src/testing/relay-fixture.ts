/**
 * Test helpers: a real relay on 127.0.0.1 (port 0) in a temporary data dir with a token, and valid
 * MXC v3 streams built with @mxcast/format's encodeBlock (the ciphertext is random bytes: the relay
 * never decrypts, it only checks the framing).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { afterAll, beforeAll } from 'vitest';
import { startRelay, type RunningRelay } from '../adapter/node-relay.ts';
import type { RelayOptions } from '../core/relay-config.ts';
import { createToken } from '../core/token-store.ts';

export const P = '/_matrix/media/unstable/org.matrix.msc4016';

export interface TestRelay {
  relay: RunningRelay;
  url: string;
  dataDir: string;
  token: string;
  /** A second user's token. */
  otherToken: string;
  auth: Record<string, string>;
  close(): Promise<void>;
}

export async function startTestRelay(options: Partial<RelayOptions> = {}): Promise<TestRelay> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'mxcast-relay-'));
  const token = createToken(dataDir, '@alice:localhost');
  const otherToken = createToken(dataDir, '@bob:localhost');
  const relay = await startRelay({ port: 0, host: '127.0.0.1', ...options, dataDir });
  return {
    relay,
    url: relay.url,
    dataDir,
    token,
    otherToken,
    auth: { Authorization: `Bearer ${token}` },
    async close() {
      await relay.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A test relay started before the enclosing file's (or describe block's) tests and closed after
 * them. The returned object reads through to the running relay, so it can be used like a
 * `TestRelay` in tests (not at collection time, before `beforeAll` has run).
 */
export function useTestRelay(options: Partial<RelayOptions> = {}): TestRelay {
  let started: TestRelay | undefined;
  beforeAll(async () => {
    started = await startTestRelay(options);
  });
  afterAll(() => started?.close());
  const live = (): TestRelay => {
    if (!started) throw new Error('the test relay is used before beforeAll started it');
    return started;
  };
  // Every read goes through to the running relay, so the object can be taken at collection time;
  // its keys too, so `{ ...t, token }` copies the running relay's fields.
  return new Proxy({} as TestRelay, {
    get: (_target, key) => Reflect.get(live(), key) as unknown,
    ownKeys: () => Reflect.ownKeys(live()),
    getOwnPropertyDescriptor: (_target, key) => {
      const d = Reflect.getOwnPropertyDescriptor(live(), key);
      return d && { ...d, configurable: true };
    },
  });
}

/** A PUT whose body is fed by the returned `push`/`end`/`abort` (a real streaming request). */
export function streamingPut(url: string, headers: Record<string, string>) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const response = fetch(url, { method: 'PUT', headers, body, duplex: 'half' } as RequestInit);
  return {
    response,
    push: (b: Uint8Array) => controller.enqueue(b),
    end: () => controller.close(),
    abort: () => controller.error(new Error('cut')),
  };
}

/** A stream of `count` blocks with ciphertexts of `ctLength` random bytes: {bytes, offsets, blocks}. */
export function makeStream(count: number, ctLength = 100, startSeq = 0) {
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) blocks.push(encodeBlock(startSeq + i, randomBytes(ctLength)));
  const parts = startSeq === 0 ? [MAGIC, ...blocks] : blocks;
  const bytes = Buffer.concat(parts);
  const offsets: number[] = [];
  let at = startSeq === 0 ? 4 : 0;
  for (const b of blocks) {
    offsets.push(at);
    at += b.length;
  }
  return { bytes, blocks, offsets };
}

export async function createMedia(
  t: TestRelay,
  geometry?: Record<string, number>,
): Promise<{ mxc: string; server: string; id: string }> {
  const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: t.auth,
    body: geometry ? JSON.stringify({ 'org.matrix.msc4016.geometry': geometry }) : undefined,
  });
  if (res.status !== 200) throw new Error(`create: ${res.status} ${await res.text()}`);
  const { content_uri: mxc } = (await res.json()) as { content_uri: string };
  const [server = '', id = ''] = mxc.slice('mxc://'.length).split('/');
  return { mxc, server, id };
}

export function uploadUrl(t: TestRelay, m: { server: string; id: string }): string {
  return `${t.url}/_matrix/media/v3/upload/${m.server}/${m.id}`;
}
/** A resumed upload (docs/protocol.md): PUT of the bytes from `at` on, Content-Range open-ended. */
export function putFrom(
  t: TestRelay,
  m: { server: string; id: string },
  bytes: Buffer<ArrayBuffer>,
  at: number,
): Promise<Response> {
  const headers = { ...t.auth, 'Content-Range': `bytes ${at}-*/*` };
  return fetch(uploadUrl(t, m), { method: 'PUT', headers, body: bytes.subarray(at) });
}
export function downloadUrl(t: TestRelay, m: { server: string; id: string }): string {
  return `${t.url}/_matrix/client/v1/media/download/${m.server}/${m.id}`;
}
export function tusUrl(t: TestRelay, m: { server: string; id: string }): string {
  return `${t.url}${P}/tus/${m.server}/${m.id}`;
}
export function indexUrl(t: TestRelay, m: { server: string; id: string }): string {
  return `${t.url}${P}/index/${m.server}/${m.id}`;
}
export function wsUrl(
  t: TestRelay,
  kind: 'ws' | 'upload/ws',
  m: { server: string; id: string },
  query = '',
): string {
  return `${t.url.replace(/^http/, 'ws')}${P}/${kind}/${m.server}/${m.id}${query}`;
}

export async function getIndex(t: TestRelay, m: { server: string; id: string }) {
  const res = await fetch(indexUrl(t, m));
  return (await res.json()) as {
    state: string;
    byte_length: number;
    block_count: number;
    sha256: string | null;
    listeners: number;
    header_end: number | null;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true (or throws after `ms`). */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

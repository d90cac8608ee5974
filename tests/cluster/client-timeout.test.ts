/**
 * The clients' timeouts and `--resume` across URLs (docs/operations.md "Cluster"): a relay URL
 * that accepts TCP connections and never answers (a hung node, a black-holed proxy) no longer
 * hangs a capture's start — its create times out and the next URL is tried; every URL hung is
 * one clear line and the NETWORK exit code; and `mxcast capture --resume` reads the index from
 * the first URL that answers, so a dead first node does not stop the resume. One real relay
 * process as the working node (both URLs of a cluster lead to the same media either way; the
 * cluster suite covers nodes of a real JetStream cluster).
 */
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import {
  downloadAndDecrypt,
  freePort,
  killAndWait,
  linkFrom,
  runCapture,
  startRelayProcess,
  tempDir,
  useStarted,
} from '../capture/capture-harness.ts';
import { startSilentServer } from '../player/silent-server.ts';

const relay = useStarted(
  'the relay',
  () => startRelayProcess(),
  (r) => r.kill(),
);

const silent: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of silent.splice(0)) await c();
});
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('client timeouts', () => {
  it('MediaClient: create against a silent server fails as NETWORK (retryable) within timeoutMs', async () => {
    const hung = await startSilentServer(silent);
    const client = new MediaClient({ baseUrl: hung.url, accessToken: 'x', timeoutMs: 400 });
    const t0 = performance.now();
    const err = await client.create().then(
      () => null,
      (e: unknown) => e as { code: string; retryable: boolean; message: string },
    );
    const ms = performance.now() - t0;
    expect(err?.code).toBe('NETWORK');
    expect(err?.retryable).toBe(true);
    expect(err?.message).toContain('did not answer within 400 ms');
    expect(hung.accepted()).toBeGreaterThan(0); // it did connect: this is the answer timeout
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(5000);
    // The WebSocket open is bounded the same way.
    const t1 = performance.now();
    const wsErr = await client.listenSocket('mxc://localhost/abc', { from: 0 }).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(wsErr?.code).toBe('NETWORK');
    expect(wsErr?.message).toContain('no answer within 400 ms');
    expect(performance.now() - t1).toBeLessThan(5000);
  });

  it('capture --relay SILENT,REAL --timeout 1: the create moves on to the real relay within the timeout', async () => {
    const r = relay();
    const hung = await startSilentServer(silent);
    const t0 = performance.now();
    const run = runCapture({ url: [hung.url, r.url].join(','), token: r.token }, [
      '--preset',
      'low-latency',
      '--input',
      'sine:500',
      '--duration',
      '1',
      '--timeout',
      '1',
    ]);
    cleanups.push(() => killAndWait(run.child));
    await run.waitFor('/listen#');
    const toLink = performance.now() - t0;
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`created the media on ${r.url}`);
    expect(hung.accepted()).toBeGreaterThan(0);
    // The 1 s timeout plus a CLI start (a few seconds on a loaded machine), never the hang.
    expect(toLink).toBeLessThan(20_000);
    const link = linkFrom(result.stdout);
    expect(link.startsWith(r.url)).toBe(true);
    const { pages } = await downloadAndDecrypt(link);
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    const eos = pages.filter((p) => parseOggPage(p.plaintext).flags & OggFlag.EOS);
    expect(eos.map((p) => p.seq)).toEqual([pages.length - 1]);
  });

  it('every URL silent: one line naming each, exit NETWORK', async () => {
    const a = await startSilentServer(silent);
    const b = await startSilentServer(silent);
    const run = runCapture({ url: [a.url, b.url].join(','), token: 'unused' }, [
      '--input',
      'sine:500',
      '--duration',
      '1',
      '--timeout',
      '0.5',
    ]);
    cleanups.push(() => killAndWait(run.child));
    const result = await run.done;
    expect(result.code, result.stderr).toBe(3); // capture's NETWORK exit code (docs/errors.md);
    const line = result.stderr.split('\n').find((l) => l.includes('no relay answered'));
    expect(line, result.stderr).toBeDefined();
    expect(line).toContain('(2 tried)');
    expect(line).toContain(`${a.url} did not answer within 500 ms`);
    expect(line).toContain(`${b.url} did not answer within 500 ms`);
  });
});

describe('capture --resume with several URLs', () => {
  it('reads the index from the next URL when the first is dead (closed port), and continues the broadcast there', async () => {
    const r = relay();
    const statePath = path.join(tempDir(), 'state.json');
    const first = runCapture(r, [
      '--preset',
      'low-latency',
      '--input',
      'sine:440',
      '--realtime',
      '--state',
      statePath,
    ]);
    cleanups.push(() => killAndWait(first.child));
    await first.waitFor('/listen#');
    await sleep(1000);
    await killAndWait(first.child, 'SIGKILL');
    const link = linkFrom(first.stdout());
    const { mxc } = parseListenLink(link);
    const before = await new MediaClient({ baseUrl: r.url }).index(mxc);
    expect(before.state).toBe('live');

    const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens: refused
    const second = runCapture({ url: [dead, r.url].join(','), token: r.token }, [
      '--input',
      'sine:440',
      '--fast',
      '--duration',
      '1',
      '--resume',
      statePath,
    ]);
    cleanups.push(() => killAndWait(second.child));
    const result = await second.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`read the index on ${r.url}`);
    expect(result.stderr).toMatch(/resuming mxc:\/\/\S+ at block \d+/);
    const { pages } = await downloadAndDecrypt(link);
    expect(pages.length).toBeGreaterThan(before.block_count);
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    const eos = pages.filter((p) => parseOggPage(p.plaintext).flags & OggFlag.EOS);
    expect(eos.map((p) => p.seq)).toEqual([pages.length - 1]);
  });
});

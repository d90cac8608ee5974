/**
 * Failover of the clients (docs/operations.md "Cluster"): `mxcast capture --relay URL1,URL2` and
 * a Player given both URLs move on to the second when the first dies mid-broadcast, and nothing
 * is lost or repeated. Here both URLs lead to one real relay (URL1 through a TCP front that is
 * killed, URL2 direct), so this pins the clients' half without a cluster; cluster-failover.test.ts
 * does the same with relay nodes of a real JetStream cluster.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import {
  downloadAndDecrypt,
  killAndWait,
  linkFrom,
  opusinfo,
  runCapture,
  tempDir,
  useStarted,
  startRelayProcess,
  writeTemp,
} from '../capture/capture-harness.ts';
import { expectGapless, listenLive, startFront } from './cluster-listeners.ts';

const relay = useStarted(
  'the relay',
  () => startRelayProcess(),
  (r) => r.kill(),
);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('client failover to the next relay URL', () => {
  it('capture and listeners (HTTP, WebSocket) continue on URL2 when URL1 dies: no gap, no duplicate, one EOS', async () => {
    const r = relay();
    const front = await startFront(r.port);
    cleanups.push(() => front.kill());
    const relays = [front.url, r.url];
    const run = runCapture({ url: relays.join(','), token: r.token }, [
      '--preset',
      'low-latency',
      '--input',
      'sine:500',
      '--duration',
      '4',
      '--realtime',
    ]);
    cleanups.push(() => killAndWait(run.child));
    await run.waitFor('/listen#');
    const link = linkFrom(run.stdout());
    expect(link.startsWith(front.url)).toBe(true); // the link names the first node
    const listeners = (['http', 'ws'] as const).map((t) => listenLive(link, relays, t));
    cleanups.push(async () => listeners.forEach((l) => l.player.stop()));
    await sleep(1200);
    await front.kill();

    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`on ${r.url}`); // the reconnect notice names the new node
    const { pages, opus } = await downloadAndDecrypt(link.replace(front.url, r.url));
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    const eos = pages.filter((p) => parseOggPage(p.plaintext).flags & OggFlag.EOS);
    expect(eos.map((p) => p.seq)).toEqual([pages.length - 1]);
    const info = await opusinfo(writeTemp(tempDir(), 'failover.opus', opus));
    expect(info).not.toMatch(/WARNING|ERROR/i);

    for (const l of listeners) {
      await expectGapless(l, pages.length - 1);
      expect(l.reconnects.length, l.transport).toBeGreaterThan(0);
      expect(l.seqs.length, l.transport).toBeGreaterThan(50); // heard from near the start
    }
  });

  it('the first create moves on to URL2 when URL1 does not answer; the link names URL2', async () => {
    const r = relay();
    const front = await startFront(r.port);
    await front.kill(); // URL1's port now refuses connections
    const run = runCapture({ url: [front.url, r.url].join(','), token: r.token }, [
      '--preset',
      'low-latency',
      '--input',
      'sine:500',
      '--duration',
      '1',
    ]);
    cleanups.push(() => killAndWait(run.child));
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`created the media on ${r.url}`);
    const link = linkFrom(result.stdout);
    expect(link.startsWith(r.url)).toBe(true);
    const { pages } = await downloadAndDecrypt(link);
    expect(pages.length).toBeGreaterThan(10);
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    const eos = pages.filter((p) => parseOggPage(p.plaintext).flags & OggFlag.EOS);
    expect(eos.map((p) => p.seq)).toEqual([pages.length - 1]);
  });
});

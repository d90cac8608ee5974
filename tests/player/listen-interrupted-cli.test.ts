/**
 * `mxcast listen` (a real process) on a live broadcast whose upload pauses on a real relay with a
 * short `interruptedAfterMs` (docs/protocol.md "Interrupted broadcasts"): its status lines say
 * `interrupted` while the relay flags the broadcast, then `resumed`, and it finishes normally.
 * Over both transports: WebSocket hears the relay's status push, HTTP the index it polls.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import { runMxcast } from '../capture/capture-harness.ts';
import { encodeBroadcast, listenLinkOf, startUpload, type TestRelay } from './broadcast-fixture.ts';

let running: RunningRelay;
let relay: TestRelay;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mxcast-listen-int-'));
  const dataDir = join(dir, 'relay');
  running = await startRelay({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    limits: { interruptedAfterMs: 500, maxIdleLiveMs: 60_000 },
  });
  relay = {
    url: running.url,
    token: createToken(dataDir, '@alice:localhost'),
    dataDir,
    restart: () => Promise.reject(new Error('not used here')),
    close: () => running.close(),
  };
});
afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mxcast listen on an interrupted broadcast', () => {
  it.each(['ws', 'http'] as const)(
    'prints interrupted, then resumed, then finishes (%s)',
    async (transport) => {
      const b = await encodeBroadcast('voice', 4.8);
      const up = await startUpload(relay, b);
      up.send(8);
      const listen = runMxcast([
        'listen',
        listenLinkOf(up),
        '--transport',
        transport,
        '--out',
        join(dir, `${transport}.wav`),
      ]);
      await listen.waitFor('interrupted: the broadcaster went silent', 10_000);
      // The periodic status line (every 2 s) names the state "interrupted".
      await listen.waitFor(/listen: interrupted position=/, 10_000);
      up.send(b.blocks.length);
      await listen.waitFor('resumed: blocks again', 10_000);
      await up.end();
      const done = await listen.done;
      expect(done.code, done.stderr).toBe(0);
      expect(done.stderr).toMatch(/finished position=/);
    },
  );
});

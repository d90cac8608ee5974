/**
 * Interrupted broadcasts (docs/protocol.md "Interrupted broadcasts") as a player sees them: a real
 * relay with a short `interruptedAfterMs`, a real encoded broadcast whose upload pauses. The
 * WebSocket player hears `interrupted` from the relay's status push; the HTTP player from the
 * index (`refreshLiveEdge`, as `mxcast listen` calls it every 2 s). Blocks again clear it, and the
 * broadcast then finishes normally.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySink } from '@mxcast/player';
import { createToken, startRelay, type RunningRelay } from '@mxcast/relay';
import {
  encodeBroadcast,
  playerOf,
  startUpload,
  wait,
  type TestRelay,
} from './broadcast-fixture.ts';

const INTERRUPTED_AFTER_MS = 400;

let running: RunningRelay;
let relay: TestRelay;
beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-player-int-'));
  const token = createToken(dataDir, '@alice:localhost');
  running = await startRelay({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    limits: { interruptedAfterMs: INTERRUPTED_AFTER_MS, maxIdleLiveMs: 60_000 },
  });
  relay = {
    url: running.url,
    token,
    dataDir,
    restart: () => Promise.reject(new Error('not used here')),
    close: async () => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
afterAll(() => relay?.close());

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(50);
  }
}

describe('player and an interrupted broadcast', () => {
  it('reports interrupted while the upload is silent and clears it when blocks come again', async () => {
    const b = await encodeBroadcast('voice', 4.8); // 20 audio blocks of 240 ms
    const up = await startUpload(relay, b);
    up.send(8);
    const players = (['ws', 'http'] as const).map((transport) => {
      const player = playerOf(up, { sink: new MemorySink(), transport, geometry: b.geometry });
      const events: boolean[] = [];
      player.on('interrupted', ({ interrupted }) => events.push(interrupted));
      return { transport, player, events, done: player.play({ live: true }) };
    });
    const ask = async (p: (typeof players)[number]) => {
      // Over HTTP only the index tells: ask it as `mxcast listen` does.
      if (p.transport === 'http') await p.player.refreshLiveEdge();
      return p.player.status().interrupted;
    };

    for (const p of players)
      await until(
        async () => (await ask(p)) === true,
        INTERRUPTED_AFTER_MS + 3000,
        `${p.transport} interrupted`,
      );
    for (const p of players) expect(p.events, p.transport).toEqual([true]);

    up.send(b.blocks.length);
    for (const p of players)
      await until(async () => (await ask(p)) === false, 3000, `${p.transport} resumed`);
    for (const p of players) expect(p.events, p.transport).toEqual([true, false]);

    await up.end();
    for (const p of players) {
      const outcome = await p.done;
      expect(outcome.state, p.transport).toBe('finished');
      expect(p.player.status().interrupted, p.transport).toBe(false);
    }
  });
});

/**
 * Index fetch failures (docs/player.md "Errors"): through a proxy in front of a real
 * relay that fails the first index requests, a transient failure (cut connection, 503, 429)
 * is retried with a doubling delay and reported as a non-fatal error, and the player recovers
 * and plays; past the last attempt it is fatal; 404 / 403 are fatal at once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MemorySink, Player, type PlayFrom, type PlayerError } from '@mxcast/player';
import {
  encodeBroadcast,
  finishedBroadcast,
  useTestRelay,
  uploadFinished,
  type EncodedBroadcast,
  type Upload,
} from './broadcast-fixture.ts';
import { startFailingIndexProxy } from './failing-index-proxy.ts';

const relay = useTestRelay();
let b: EncodedBroadcast;
let up: Upload;
let varB: EncodedBroadcast;
let varUp: Upload;
beforeAll(async () => {
  ({ b, up } = await finishedBroadcast(relay, 'voice', 3));
  varB = await encodeBroadcast('voice', 6, { variableBlocks: true });
  varUp = await uploadFinished(relay, varB, { declareGeometry: false });
});

async function listen(
  failWith: (n: number) => number | 'drop' | null,
  from: PlayFrom,
  media: Upload = up,
  duration?: number,
) {
  const proxy = await startFailingIndexProxy(relay.url, failWith);
  try {
    const sink = new MemorySink();
    const player = new Player({
      relayUrl: proxy.url,
      mxc: media.mxc,
      file: media.file,
      sink,
      ...(duration !== undefined ? { duration } : {}),
    });
    const errors: PlayerError[] = [];
    player.on('error', (e) => errors.push(e));
    const t0 = performance.now();
    const outcome = await player.play(from);
    return { outcome, sink, errors, elapsed: performance.now() - t0, index: proxy.indexRequests };
  } finally {
    await proxy.close();
  }
}

describe('index fetch failures', () => {
  it('live join: a cut connection, a 503 and a 429 are retried, then it plays', async () => {
    const fails: ('drop' | number)[] = ['drop', 503, 429];
    const r = await listen((n) => fails[n - 1] ?? null, { live: true });
    expect(r.outcome.state).toBe('finished');
    expect(r.index).toBe(4);
    // Each retry is reported under its own failure: the 429 is LIMITED, not NETWORK.
    expect(r.errors.map((e) => [e.code, e.fatal])).toEqual([
      ['NETWORK', false],
      ['NETWORK', false],
      ['LIMITED', false],
    ]);
    expect(r.errors[1]?.details.status).toBe(503);
    expect(r.errors[2]?.details.status).toBe(429);
    // joined at the newest block (the last one of this finished broadcast) and played it
    const first = r.sink.chunks[0]?.startSample ?? -1;
    expect(first).toBe((b.blocks.length - 3) * b.blockSamples - b.preSkip);
    expect(r.sink.samples().length).toBeGreaterThan(0);
  });

  it('seek where block sizes vary: the bisection index request is retried too', async () => {
    const r = await listen((n) => (n <= 2 ? 503 : null), { time: 4 }, varUp, 0.3);
    expect(r.outcome.state).toBe('stopped');
    expect(r.index).toBe(3);
    expect(r.errors.map((e) => e.fatal)).toEqual([false, false]);
    expect(r.sink.chunks[0]?.startSample).toBe(4 * 48_000);
    expect(r.sink.samples().length).toBe(0.3 * 48_000 * varB.geometry.channels);
  });

  it('fails for good: fatal NETWORK after 5 attempts in a few seconds', async () => {
    const r = await listen(() => 503, { live: true });
    expect(r.outcome.state).toBe('error');
    expect(r.outcome.error?.code).toBe('NETWORK');
    expect(r.outcome.error?.fatal).toBe(true);
    expect(r.index).toBe(5);
    // four retries reported as they happen, then the fatal one
    expect(r.errors.map((e) => e.fatal)).toEqual([false, false, false, false, true]);
    // 150 + 300 + 600 + 1200 ms of backoff: bounded, not instant
    expect(r.elapsed).toBeGreaterThan(2_000);
    expect(r.elapsed).toBeLessThan(10_000);
    expect(r.sink.chunks).toHaveLength(0);
  });

  it('a 429 to the end is a fatal LIMITED', async () => {
    const r = await listen(() => 429, { live: true });
    expect(r.outcome.error?.code).toBe('LIMITED');
    expect(r.outcome.error?.fatal).toBe(true);
    expect(r.index).toBe(5);
  });

  for (const [status, code] of [
    [404, 'NOT_FOUND'],
    [403, 'REFUSED'],
    [401, 'REFUSED'],
  ] as const) {
    it(`${status}: ${code}, fatal at once (no retry)`, async () => {
      const r = await listen(() => status, { live: true });
      expect(r.outcome.state).toBe('error');
      expect(r.outcome.error?.code).toBe(code);
      expect(r.outcome.error?.fatal).toBe(true);
      expect(r.index).toBe(1);
      expect(r.errors).toHaveLength(1);
      expect(r.elapsed).toBeLessThan(2_000);
    });
  }
});

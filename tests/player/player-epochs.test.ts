/**
 * Key epochs in the player (docs/format.md "Key epochs", docs/player.md "Key epochs"), over a
 * real relay: a broadcast whose key changes at three block boundaries plays from the start and
 * live with no gap (the decoded PCM is the single-key stream's, sample for sample); a relay
 * cannot move a boundary (a block under the neighbouring epoch's key is TAMPERED); a listener
 * whose key source says access was lost gets NO_ACCESS at the first block it cannot open.
 */
import { describe, expect, it } from 'vitest';
import type { Epoch } from '@mxcast/format';
import { EpochKeyRing, MemorySink, type Player, type PlayerOptions } from '@mxcast/player';
import {
  encodeBroadcast,
  playerOf,
  startUpload,
  uploadFinished,
  useTestRelay,
  wait,
  type EncodedBroadcast,
  type Upload,
} from './broadcast-fixture.ts';
import { continuity, forgedBlock, pagesOf, withEpochs } from './epoch-fixture.ts';
import { startTamperingProxy, type Blocks } from './tampering-proxy.ts';
import { startTamperingWsProxy } from './tampering-ws-proxy.ts';

const relay = useTestRelay();

/** voice: 240 ms blocks; 4.8 s = blocks 0..21 (0 and 1 the header pages). Three boundaries. */
const STARTS = [0, 5, 11, 17];
const SECONDS = 4.8;

let shared: Promise<{ plain: EncodedBroadcast; b: EncodedBroadcast; epochs: Epoch[] }> | undefined;
function broadcast() {
  shared ??= (async () => {
    const plain = await encodeBroadcast('voice', SECONDS);
    const { b, epochs } = await withEpochs(plain, STARTS);
    return { plain, b, epochs };
  })();
  return shared;
}

async function play(
  up: Upload,
  keys: EpochKeyRing,
  extra: Partial<PlayerOptions> = {},
  from: { live: true } | { time: number } = { time: 0 },
) {
  const sink = new MemorySink();
  const player: Player = playerOf(up, { sink, keys, geometry: up.broadcast.geometry, ...extra });
  const started = performance.now();
  const outcome = await player.play(from);
  return { sink, outcome, ms: performance.now() - started };
}

describe('a broadcast with three key boundaries', () => {
  it('plays from the start over HTTP and WebSocket with no gap: the same PCM as one key', async () => {
    const { plain, b, epochs } = await broadcast();
    const reference = await play(await uploadFinished(relay, plain), new EpochKeyRing(plain.file));
    expect(reference.outcome.state).toBe('finished');
    const up = await uploadFinished(relay, b);
    for (const transport of ['http', 'ws'] as const) {
      const r = await play(up, new EpochKeyRing(epochs), { transport });
      expect(r.outcome.state, transport).toBe('finished');
      const c = continuity(r.sink.chunks);
      // Measured: no missing or repeated block at any boundary (the gap is 0 samples).
      expect(c.gapSamples, transport).toBe(0);
      expect(c.total).toBe(continuity(reference.sink.chunks).total);
      expect(r.sink.samples()).toEqual(reference.sink.samples());
    }
  });

  it('plays live over HTTP and WebSocket with the epochs arriving as announced, one late', async () => {
    const { b, epochs } = await broadcast();
    const up = await startUpload(relay, b);
    up.send(3);
    const onTime = new EpochKeyRing(epochs.slice(0, 1));
    const late = new EpochKeyRing(epochs.slice(0, 1));
    const setups = [
      { keys: onTime, transport: 'http' },
      { keys: late, transport: 'http' },
      { keys: onTime, transport: 'ws' },
      { keys: late, transport: 'ws' },
    ] as const;
    const listeners = setups.map(({ keys, transport }) => {
      const seqs: number[] = [];
      const sink = new MemorySink();
      const player = playerOf(up, {
        sink,
        keys,
        transport,
        geometry: b.geometry,
        keyWaitMs: 5_000,
      });
      const at = new Map<number, number>();
      player.on('block', ({ seq }) => {
        seqs.push(seq);
        at.set(seq, performance.now());
      });
      return { sink, seqs, at, done: player.play({ live: true }) };
    });
    const sentAt = new Map<number, number>();
    const announce = (seq: number) => {
      sentAt.set(seq, performance.now());
      for (const e of epochs.slice(1)) {
        // Announced ahead: four blocks (~1 s) before the boundary, as the capture does.
        if (seq < e.startSeq - 4) continue;
        onTime.add(e); // idempotent: an epoch already known is ignored
        // The late listener gets the last epoch only 150 ms after its first block was uploaded.
        if (e !== epochs.at(-1)) late.add(e);
        else if (seq === e.startSeq) setTimeout(() => late.add(e), 150);
      }
    };
    announce(up.sent - 1);
    const uploading = up.realtime(240, announce);
    await uploading;
    for (const [i, l] of listeners.entries()) {
      const outcome = await l.done;
      expect(outcome.state, `listener ${i}`).toBe('finished');
      const first = l.seqs[0] as number;
      expect(l.seqs).toEqual(Array.from({ length: b.blocks.length - first }, (_, k) => first + k));
      expect(first).toBeLessThan(STARTS.at(-1) as number);
      expect(continuity(l.sink.chunks).gapSamples, `listener ${i}`).toBe(0);
    }
    // The late listeners did wait for the last epoch's key at its first block (≥ the 150 ms).
    const last = STARTS.at(-1) as number;
    for (const i of [1, 3]) {
      const waited = (listeners[i]?.at.get(last) as number) - (sentAt.get(last) as number);
      expect(waited, setups[i]?.transport).toBeGreaterThanOrEqual(140);
    }
  });
});

describe('a relay cannot move a boundary', () => {
  /** Serves `b` with block `seq` replaced by its page sealed under `epochs[k]`. */
  async function forged(seq: number, k: number) {
    const { plain, b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    const page = (await pagesOf(plain))[seq] as Uint8Array;
    const fake = await forgedBlock(epochs[k] as Epoch, seq, page);
    const proxy = await startTamperingProxy(relay.url, (blocks: Blocks) =>
      blocks.map((x, i) => (i === seq ? fake : x)),
    );
    return { up: { ...up, relay: { ...relay, url: proxy.url } } as Upload, proxy, epochs };
  }

  it.each([
    ['the first block of epoch 2 under epoch 1 (old key after the boundary)', 11, 1],
    ['the last block of epoch 1 under epoch 2 (boundary moved earlier)', 10, 2],
    ['the first block of epoch 1 under epoch 0', 5, 0],
  ])('%s is TAMPERED at once', async (_what, seq, k) => {
    const { up, proxy, epochs } = await forged(seq, k);
    try {
      const r = await play(up, new EpochKeyRing(epochs), { transport: 'http', keyWaitMs: 5_000 });
      expect(r.outcome.state).toBe('error');
      expect(r.outcome.error?.code).toBe('TAMPERED');
      expect(r.outcome.error?.details.seq).toBe(seq);
      // A later epoch is known, so the block's epoch is final: no wait for keys.
      expect(r.ms).toBeLessThan(4_000);
    } finally {
      await proxy.close();
    }
  });

  it('over WebSocket too: old-key ciphertext after a boundary is TAMPERED at that block', async () => {
    const { plain, b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    const page = (await pagesOf(plain))[11] as Uint8Array;
    const fake = await forgedBlock(epochs[1] as Epoch, 11, page);
    const proxy = await startTamperingWsProxy(relay.url, () => (msg) => [
      msg.kind === 'block' ? (msg.seq === 11 ? fake : msg.bytes) : msg.text,
    ]);
    try {
      const proxied = { ...up, relay: { ...relay, url: proxy.url } } as Upload;
      const r = await play(proxied, new EpochKeyRing(epochs), { transport: 'ws' });
      expect(r.outcome.error?.code).toBe('TAMPERED');
      expect(r.outcome.error?.details.seq).toBe(11);
    } finally {
      await proxy.close();
    }
  });

  it('old-key ciphertext past the last known boundary is TAMPERED once the key wait ends', async () => {
    const { up, proxy, epochs } = await forged(17, 2);
    try {
      const r = await play(up, new EpochKeyRing(epochs), { transport: 'http', keyWaitMs: 400 });
      expect(r.outcome.error?.code).toBe('TAMPERED');
      expect(r.outcome.error?.details.seq).toBe(17);
      expect(r.ms).toBeGreaterThanOrEqual(400);
    } finally {
      await proxy.close();
    }
  });
});

describe('a listener whose keys stop', () => {
  it('gets NO_ACCESS at the first block of an epoch it was not given, having heard all before it', async () => {
    const { b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    const keys = new EpochKeyRing(epochs.slice(0, 3));
    setTimeout(() => keys.loseAccess('removed from the room'), 100);
    const r = await play(up, keys, { keyWaitMs: 10_000 });
    expect(r.outcome.state).toBe('error');
    expect(r.outcome.error?.code).toBe('NO_ACCESS');
    expect(r.outcome.error?.message).toContain('no longer have access');
    expect(r.outcome.error?.details.seq).toBe(17);
    // Everything up to the boundary was heard, seamlessly: blocks 2..16 of audio.
    const c = continuity(r.sink.chunks);
    expect(c.gapSamples).toBe(0);
    expect(c.total).toBeGreaterThanOrEqual((17 - 2) * b.blockSamples - 960 * 2);
    expect(r.ms).toBeLessThan(8_000);
  });

  it('with no news from the key source is TAMPERED after the key wait, not NO_ACCESS', async () => {
    const { b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    const r = await play(up, new EpochKeyRing(epochs.slice(0, 3)), { keyWaitMs: 300 });
    expect(r.outcome.error?.code).toBe('TAMPERED');
    expect(r.outcome.error?.details.seq).toBe(17);
  });

  it('plays on when the missing epoch arrives during the wait', async () => {
    const { b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    const keys = new EpochKeyRing(epochs.slice(0, 3));
    setTimeout(() => keys.add(epochs[3] as Epoch), 300);
    const r = await play(up, keys, { keyWaitMs: 10_000 });
    expect(r.outcome.state).toBe('finished');
    expect(continuity(r.sink.chunks).gapSamples).toBe(0);
    await wait(0);
  });
});

describe('seeking across epochs', () => {
  it('by arithmetic (one request) and by bisection (blocks of varying size) lands in the right epoch', async () => {
    const { b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    for (const t of [0.5, 2.0, 4.2]) {
      const sink = new MemorySink();
      const player = playerOf(up, {
        sink,
        keys: new EpochKeyRing(epochs),
        duration: 0.3,
        geometry: b.geometry,
      });
      expect((await player.play({ time: t })).state).toBe('stopped');
      expect(sink.chunks[0]?.startSample).toBe(Math.round(t * 48_000));
      // header leg (from byte 0) + at most one Range request to the target
      expect(player.status().requests).toBeLessThanOrEqual(2);
    }
    const varied = await encodeBroadcast('voice', 6, { variableBlocks: true });
    const { b: vb, epochs: ve } = await withEpochs(varied, [0, 25, 50, 75]); // ~100 blocks of 1-5 frames
    const vup = await uploadFinished(relay, vb, { declareGeometry: false });
    for (const t of [1.1, 3.3, 5.5]) {
      const sink = new MemorySink();
      const player = playerOf(vup, { sink, keys: new EpochKeyRing(ve), duration: 0.3 });
      const outcome = await player.play({ time: t });
      expect(outcome.state, `T=${t} ${outcome.error?.message}`).toBe('stopped');
      expect(sink.chunks[0]?.startSample).toBe(Math.round(t * 48_000));
    }
  });
});

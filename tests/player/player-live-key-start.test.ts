/**
 * A live join by a listener whose key source withholds part of the broadcast (a `joined`
 * newcomer, docs/matrix.md "Key epochs": header epoch for blocks 0–1, a withheld stretch, then
 * its own epoch, announced ahead), over a real relay and a real streaming upload: the live edge
 * is inside the withheld stretch when the player starts, so it must wait for the relay to have
 * the first block of its own epoch and play from there — never NO_ACCESS — over HTTP and
 * WebSocket. Playing from the start still says NO_ACCESS at the first withheld block.
 */
import { describe, expect, it } from 'vitest';
import type { Epoch } from '@mxcast/format';
import { EpochKeyRing, MemorySink, type PlayerOptions } from '@mxcast/player';
import {
  encodeBroadcast,
  playerOf,
  startUpload,
  uploadFinished,
  useTestRelay,
  type EncodedBroadcast,
} from './broadcast-fixture.ts';
import { continuity, withEpochs } from './epoch-fixture.ts';

const relay = useTestRelay();

/** voice: 240 ms blocks; 4.8 s = blocks 0..21. The newcomer's own epoch starts at block 12. */
const STARTS = [0, 2, 12, 17];
const OWN = 12;

let shared: Promise<{ b: EncodedBroadcast; epochs: Epoch[] }> | undefined;
function broadcast() {
  shared ??= encodeBroadcast('voice', 4.8).then((plain) => withEpochs(plain, STARTS));
  return shared;
}

/** The newcomer's ring: epoch 0's key for the header, 2… withheld, then `own` (if given). */
function newcomerRing(epochs: Epoch[], own: Epoch[]): EpochKeyRing {
  const ring = new EpochKeyRing([epochs[0] as Epoch]);
  ring.withhold(2, 'it was sent before you joined, under the joined history policy');
  for (const e of own) ring.add(e);
  return ring;
}

function listen(
  up: Awaited<ReturnType<typeof startUpload>>,
  keys: EpochKeyRing,
  extra: Partial<PlayerOptions>,
  from: { live: true } | { time: number } = { live: true },
) {
  const sink = new MemorySink();
  const seqs: number[] = [];
  const player = playerOf(up, { sink, keys, geometry: up.broadcast.geometry, ...extra });
  let headed: () => void = () => {};
  /** Resolves once the header blocks were read: the live start is being chosen, or was. */
  const header = new Promise<void>((r) => (headed = r));
  // `block` is for audio blocks; `digest` for every block that authenticated, the header too.
  player.on('digest', ({ seq }) => void (seq === 1 && headed()));
  player.on('block', ({ seq }) => void seqs.push(seq));
  const moved: { edge: number; seq: number }[] = [];
  player.on('liveStartMoved', (m) => void moved.push(m));
  return { sink, seqs, header, moved, done: player.play(from) };
}

describe("a joined newcomer's live listen", { timeout: 30_000 }, () => {
  it('starts at its first epoch, announced ahead of the live edge, over HTTP and WebSocket', async () => {
    const { b, epochs } = await broadcast();
    const up = await startUpload(relay, b);
    up.send(7); // the edge is block 6, inside the withheld stretch 2..11
    const listeners = (['http', 'ws'] as const).map((transport) => ({
      transport,
      ...listen(up, newcomerRing(epochs, epochs.slice(2)), { transport, keyWaitMs: 5_000 }),
    }));
    // The listeners have joined (and are waiting) before the rest is uploaded in real time.
    await Promise.all(listeners.map((l) => l.header));
    await new Promise((r) => setTimeout(r, 300));
    await up.realtime(240);
    for (const l of listeners) {
      const outcome = await l.done;
      expect(outcome.state, `${l.transport}: ${outcome.error?.message}`).toBe('finished');
      // The edge was in the withheld stretch (6 over HTTP, the newest complete block; 7 over
      // WebSocket, the next to arrive): the start moved to block 12 and said so.
      expect(l.moved, l.transport).toEqual([{ edge: l.transport === 'http' ? 6 : 7, seq: OWN }]);
      // From the first block of its own epoch to the end, every block once, in order.
      expect(l.seqs, l.transport).toEqual(
        Array.from({ length: b.blocks.length - OWN }, (_, k) => OWN + k),
      );
      const c = continuity(l.sink.chunks);
      expect(c.gapSamples, l.transport).toBe(0);
      expect(c.total, l.transport).toBeGreaterThanOrEqual(
        (b.blocks.length - OWN - 1) * b.blockSamples,
      );
      // Audio, not silence: the time-coded tone.
      const pcm = l.sink.samples();
      let peak = 0;
      for (const x of pcm) peak = Math.max(peak, Math.abs(x));
      expect(peak, l.transport).toBeGreaterThan(1000);
    }
  });

  it('waits for its own epoch when it is not known yet at the start, then plays from it', async () => {
    const { b, epochs } = await broadcast();
    const up = await startUpload(relay, b);
    up.send(7);
    const rings = [newcomerRing(epochs, []), newcomerRing(epochs, [])];
    const listeners = (['http', 'ws'] as const).map((transport, i) => ({
      transport,
      ...listen(up, rings[i] as EpochKeyRing, { transport, keyWaitMs: 5_000 }),
    }));
    // Over WebSocket the start is chosen before the socket opens (no header yet): the HTTP
    // listener's header says both are choosing.
    await listeners[0]?.header;
    await new Promise((r) => setTimeout(r, 400));
    for (const ring of rings) for (const e of epochs.slice(2)) ring.add(e);
    await up.realtime(240);
    for (const l of listeners) {
      const outcome = await l.done;
      expect(outcome.state, `${l.transport}: ${outcome.error?.message}`).toBe('finished');
      expect(l.seqs[0], l.transport).toBe(OWN);
    }
  });

  it('with no epoch of its own by the end of the key wait, NO_ACCESS at the edge, as before', async () => {
    const { b, epochs } = await broadcast();
    const up = await startUpload(relay, b);
    up.send(7);
    const started = performance.now();
    const listeners = (['http', 'ws'] as const).map((transport) => ({
      transport,
      ...listen(up, newcomerRing(epochs, []), { transport, keyWaitMs: 600 }),
    }));
    const uploading = up.realtime(240);
    for (const l of listeners) {
      const outcome = await l.done;
      expect(outcome.error?.code, l.transport).toBe('NO_ACCESS');
      expect(outcome.error?.message, l.transport).toContain('sent before you joined');
      expect(l.seqs, l.transport).toEqual([]);
      expect(l.moved, l.transport).toEqual([]);
    }
    // It waited for the key source (600 ms), not for the whole broadcast.
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(600);
    expect(ms).toBeLessThan(8_000);
    await uploading;
  });

  it('from the start (a time, not live) it still stops NO_ACCESS at the first withheld block', async () => {
    const { b, epochs } = await broadcast();
    const up = await uploadFinished(relay, b);
    for (const transport of ['http', 'ws'] as const) {
      const l = listen(up, newcomerRing(epochs, epochs.slice(2)), { transport }, { time: 0 });
      const outcome = await l.done;
      expect(outcome.state, transport).toBe('error');
      expect(outcome.error?.code, transport).toBe('NO_ACCESS');
      expect(outcome.error?.message, transport).toContain('sent before you joined');
      expect(outcome.error?.details.seq, transport).toBe(2);
      expect(l.seqs, transport).toEqual([]);
    }
  });

  it('live past its first epoch: starts at the edge, no wait', async () => {
    const { b, epochs } = await broadcast();
    const up = await startUpload(relay, b);
    up.send(15);
    const l = listen(up, newcomerRing(epochs, epochs.slice(2)), { transport: 'http' });
    await l.header;
    await up.realtime(240);
    const outcome = await l.done;
    expect(outcome.state, outcome.error?.message).toBe('finished');
    // The newest complete block when it joined (14), or one uploaded while it asked.
    expect(l.seqs[0]).toBeGreaterThanOrEqual(14);
    expect(l.seqs[0]).toBeLessThanOrEqual(16);
    expect(l.moved).toEqual([]);
  });
});

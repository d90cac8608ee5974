/**
 * A hostile relay over WebSocket (docs/format.md), the cases only this transport has — the ones
 * every transport shares (bit flips, replays, reordering, drops, splices, truncation, a forged
 * end, a wrong key) are the table in hostile-relay-cases.ts, run over HTTP, WebSocket and the
 * HLS view by hostile-relay-contract.test.ts. Here, through a tampering WebSocket proxy in front
 * of a real relay: a message holding two blocks, a connection cut without `end`, and the
 * relay's `{"type":"skipped","to_seq":N}` (docs/protocol.md "Listen over WebSocket"), honest and
 * forged. Each case gives its error and no audio from the block that failed (or anything after
 * it) reaches the sink.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { EncryptedFile } from '@mxcast/format';
import { MemorySink, Player, type PlayerError, type PlayerOutcome } from '@mxcast/player';
import { NodeWebSocket } from '@mxcast/player/node';
import {
  finishedBroadcast,
  useTestRelay,
  type EncodedBroadcast,
  type Upload,
} from './broadcast-fixture.ts';
import { startTamperingWsProxy, type WsOut, type WsTamper } from './tampering-ws-proxy.ts';

const K = 6; // the block the relay tampers with

const relay = useTestRelay();
let b: EncodedBroadcast;
let up: Upload;
beforeAll(async () => {
  ({ b, up } = await finishedBroadcast(relay, 'voice', 3));
});

const blockAt = (seq: number) => b.blocks[seq] as Uint8Array;
const lastSeq = () => b.blocks.length - 1;
const skipped = (toSeq: number) => JSON.stringify({ type: 'skipped', to_seq: toSeq });
const END = JSON.stringify({ type: 'end', state: 'complete' });
/** First output sample of block `seq` (block 2 starts at −pre-skip). */
const startOf = (seq: number) => (seq - 2) * b.blockSamples - b.preSkip;

/** A tamperer that changes blocks only: `onBlock(seq, bytes)` returns what to send instead. */
function blocksOnly(onBlock: (seq: number, bytes: Uint8Array) => WsOut[]): () => WsTamper {
  return () => (msg) => (msg.kind === 'block' ? onBlock(msg.seq, msg.bytes) : [msg.text]);
}

interface Heard {
  outcome: PlayerOutcome;
  sink: MemorySink;
  errors: PlayerError[];
  seqs: number[];
  resyncs: number;
}

async function listenThrough(
  tamperFor: () => WsTamper,
  options: {
    file?: EncryptedFile;
    rewriteIndex?: (index: Record<string, unknown>) => Record<string, unknown>;
  } = {},
): Promise<Heard> {
  const proxy = await startTamperingWsProxy(relay.url, tamperFor, options.rewriteIndex);
  try {
    const sink = new MemorySink();
    const player = new Player({
      relayUrl: proxy.url,
      mxc: up.mxc,
      file: options.file ?? up.file,
      sink,
      transport: 'ws',
      WebSocket: NodeWebSocket,
      reconnectAttempts: 2,
      reconnectDelayMs: 10,
    });
    const errors: PlayerError[] = [];
    const seqs: number[] = [];
    player.on('error', (e) => errors.push(e));
    player.on('block', ({ seq }) => seqs.push(seq));
    const outcome = await player.play({ time: 0 });
    return { outcome, sink, errors, seqs, resyncs: player.status().resyncs };
  } finally {
    await proxy.close();
  }
}

/** No sample at or after the start of block K reached the sink, and the blocks before it did. */
function expectNothingFromBlockK(sink: MemorySink) {
  const end = Math.max(...sink.chunks.map((c) => c.startSample + c.pcm.length));
  expect(end).toBeLessThanOrEqual(startOf(K));
  expect(end).toBeGreaterThan(0);
}

/** The fatal error was reported as an `error` event too, with the outcome's code. */
function expectFatal(h: Heard, code: string) {
  expect(h.outcome.state).toBe('error');
  expect(h.outcome.error?.code).toBe(code);
  expect(h.outcome.error?.fatal).toBe(true);
  expect(h.errors.filter((e) => e.fatal).map((e) => e.code)).toEqual([code]);
}

describe('a hostile relay over WebSocket', () => {
  it('two blocks in one message: TAMPERED, fatal, no audio from the bad block', async () => {
    const h = await listenThrough(
      blocksOnly((seq, x) =>
        seq === K ? [] : seq === K + 1 ? [Buffer.concat([blockAt(K), x])] : [x],
      ),
    );
    expectFatal(h, 'TAMPERED');
    expectNothingFromBlockK(h.sink);
  });

  it('truncation, index rewritten to match: ended without finishing', async () => {
    const h = await listenThrough(
      blocksOnly((seq, x) => (seq < K ? [x] : [{ close: 1000 }])),
      { rewriteIndex: (index) => ({ ...index, block_count: K, state: 'complete' }) },
    );
    expect(h.outcome.state).toBe('ended-without-finishing');
    expect(h.errors.map((e) => [e.code, e.fatal])).toContainEqual(['NETWORK', false]);
    expectNothingFromBlockK(h.sink);
  });

  it('truncation the index does not admit: reconnects, then a fatal NETWORK error', async () => {
    const h = await listenThrough(blocksOnly((seq, x) => (seq < K ? [x] : [{ close: 1000 }])));
    expectFatal(h, 'NETWORK');
    expect(h.errors.filter((e) => !e.fatal).length).toBeGreaterThan(0);
    expectNothingFromBlockK(h.sink);
  });
});

describe('the relay skipping a slow listener ({"type":"skipped"})', () => {
  const GAP = 3; // blocks K … K+GAP−1 never sent

  it('an honest skip: plays on from to_seq, a gap in time, no repeat, finished', async () => {
    const h = await listenThrough(
      blocksOnly((seq, x) =>
        seq < K ? [x] : seq < K + GAP ? [] : seq === K + GAP ? [skipped(K + GAP), x] : [x],
      ),
    );
    expect(h.outcome.state).toBe('finished');
    expect(h.errors).toHaveLength(0);
    expect(h.resyncs).toBe(1);
    const want = [...range(2, K), ...range(K + GAP, lastSeq() + 1)];
    expect(h.seqs).toEqual(want);
    // audio before K contiguous; then nothing until block K+GAP, which starts at its own time
    const starts = h.sink.chunks.map((c) => c.startSample);
    expect(starts.filter((s) => s >= startOf(K) && s < startOf(K + GAP))).toEqual([]);
    expect(starts).toContain(startOf(K + GAP));
    const before = h.sink.chunks.filter((c) => c.startSample < startOf(K));
    const beforeEnd = Math.max(...before.map((c) => c.startSample + c.pcm.length));
    expect(beforeEnd).toBe(startOf(K));
  });

  it('skipped to one seq, then another block: TAMPERED', async () => {
    const h = await listenThrough(
      blocksOnly((seq, x) =>
        seq < K ? [x] : seq === K ? [skipped(K + GAP)] : seq === K + 1 ? [x] : [],
      ),
    );
    expectFatal(h, 'TAMPERED');
    expectNothingFromBlockK(h.sink);
  });

  it('a forged skip backwards (a replay): TAMPERED, nothing played twice', async () => {
    const h = await listenThrough(
      blocksOnly((seq, x) => (seq === K ? [skipped(3), ...range(3, K).map(blockAt), x] : [x])),
    );
    expectFatal(h, 'TAMPERED');
    expect(h.outcome.error?.message).toMatch(/skip to seq 3.*replay/);
    expect(h.seqs).toEqual(range(2, K));
    expectNothingFromBlockK(h.sink);
  });

  it('skipped to the end, then end: ended without finishing (the EOS page was skipped)', async () => {
    const h = await listenThrough(
      blocksOnly((seq, x) =>
        seq < K ? [x] : seq === K ? [skipped(lastSeq() + 1), END, { close: 1000 }] : [],
      ),
    );
    expect(h.outcome.state).toBe('ended-without-finishing');
    expect(h.seqs).toEqual(range(2, K));
    expectNothingFromBlockK(h.sink);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

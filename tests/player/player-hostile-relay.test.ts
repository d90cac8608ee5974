/**
 * A hostile relay (issue 5, DESIGN.md §2): through a tampering proxy in front of a real relay,
 * bit flips, duplication, reordering, dropped blocks, splices from another stream or another
 * position, truncation and a wrong key each give their error, and no audio from the block that
 * failed (or anything after it) ever reaches the sink.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOCK_HEADER_SIZE,
  encodeBlock,
  generateEncryptedFile,
  parseBlockHeader,
} from '@mxcast/format';
import { MemorySink, Player, type PlayerOutcome } from '@mxcast/player';
import {
  encodeBroadcast,
  startTestRelay,
  uploadFinished,
  type EncodedBroadcast,
  type TestRelay,
  type Upload,
} from './broadcast-fixture.ts';
import { startTamperingProxy, type Blocks } from './tampering-proxy.ts';

const K = 6; // the block the relay tampers with

let relay: TestRelay;
let b: EncodedBroadcast;
let up: Upload;
let other: EncodedBroadcast;
beforeAll(async () => {
  relay = await startTestRelay();
  b = await encodeBroadcast('voice', 3);
  up = await uploadFinished(relay, b);
  other = await encodeBroadcast('voice', 3);
});
afterAll(() => relay?.close());

const seqOf = (block: Uint8Array) => parseBlockHeader(block, 0, 'be').seq;
const ct = (block: Uint8Array) => block.slice(BLOCK_HEADER_SIZE);
/** Re-frames a ciphertext under another seq with a valid CRC: only GCM can notice. */
const reframe = (seq: number, block: Uint8Array) => encodeBlock(seq, ct(block));

async function listenThrough(
  tamper: (blocks: Blocks) => Blocks,
  rewriteIndex?: Parameters<typeof startTamperingProxy>[2],
  file = up.file,
): Promise<{ outcome: PlayerOutcome; sink: MemorySink; errors: string[] }> {
  const proxy = await startTamperingProxy(relay.url, tamper, rewriteIndex);
  try {
    const sink = new MemorySink();
    const player = new Player({
      relayUrl: proxy.url,
      mxc: up.mxc,
      file,
      sink,
      reconnectAttempts: 2,
      reconnectDelayMs: 10,
    });
    const errors: string[] = [];
    player.on('error', (e) => errors.push(e.code));
    const outcome = await player.play({ time: 0 });
    return { outcome, sink, errors };
  } finally {
    await proxy.close();
  }
}

/** No sample at or after the start of block K reached the sink, and the blocks before it did. */
function expectNothingFromBlockK(sink: MemorySink) {
  const kStart = (K - 2) * b.blockSamples - b.preSkip;
  const end = Math.max(...sink.chunks.map((c) => c.startSample + c.pcm.length));
  expect(end).toBeLessThanOrEqual(kStart);
  expect(end).toBeGreaterThan(0);
}

describe('a hostile relay', () => {
  it('plays the untouched stream to the end (the proxy itself is honest when asked)', async () => {
    const { outcome, sink } = await listenThrough((blocks) => blocks);
    expect(outcome.state).toBe('finished');
    expect(sink.samples().length).toBe((b.blocks.length - 2) * b.blockSamples - b.preSkip);
  });

  const cases: [string, (blocks: Blocks) => Blocks][] = [
    [
      'bit flip in the ciphertext, CRC fixed up',
      (bl) => bl.map((x, i) => (i === K ? reframe(K, flip(ct(x), 40)) : x)),
    ],
    [
      'bit flip without fixing the CRC',
      (bl) => bl.map((x, i) => (i === K ? flip(x, BLOCK_HEADER_SIZE + 40) : x)),
    ],
    ['duplicated block', (bl) => [...bl.slice(0, K), bl[K - 1] as Uint8Array, ...bl.slice(K)]],
    [
      'reordered blocks',
      (bl) => [...bl.slice(0, K), bl[K + 1] as Uint8Array, bl[K] as Uint8Array, ...bl.slice(K + 2)],
    ],
    ['dropped block', (bl) => [...bl.slice(0, K), ...bl.slice(K + 1)]],
    [
      'block spliced from another stream',
      (bl) => bl.map((x, i) => (i === K ? (other.blocks[K] as Uint8Array) : x)),
    ],
    [
      'block spliced from another position, renumbered',
      (bl) => bl.map((x, i) => (i === K ? reframe(K, bl[K + 2] as Uint8Array) : x)),
    ],
    [
      'dropped block, later ones renumbered to hide the gap',
      (bl) => [...bl.slice(0, K), ...bl.slice(K + 1).map((x, j) => reframe(K + j, x))],
    ],
  ];
  for (const [name, tamper] of cases) {
    it(`${name}: TAMPERED, fatal, no audio from the bad block`, async () => {
      const { outcome, sink } = await listenThrough(tamper);
      expect(outcome.state).toBe('error');
      expect(outcome.error?.code).toBe('TAMPERED');
      expect(outcome.error?.fatal).toBe(true);
      expectNothingFromBlockK(sink);
    });
  }

  it('truncation, index rewritten to match: ended without finishing, never finished', async () => {
    const { outcome, sink } = await listenThrough(
      (bl) => bl.slice(0, K),
      (index, length, count) => ({ ...index, byte_length: length, block_count: count }),
    );
    expect(outcome.state).toBe('ended-without-finishing');
    expectNothingFromBlockK(sink);
  });

  it('truncation the index does not admit: still ended without finishing', async () => {
    const { outcome, sink } = await listenThrough((bl) => bl.slice(0, K));
    expect(outcome.state).toBe('ended-without-finishing');
    expectNothingFromBlockK(sink);
  });

  it('truncation inside a block: ended without finishing, the partial block never played', async () => {
    const { outcome, sink } = await listenThrough(
      (bl) => [...bl.slice(0, K), (bl[K] as Uint8Array).subarray(0, 100)],
      (index, length, count) => ({ ...index, byte_length: length, block_count: count - 1 }),
    );
    expect(outcome.state).toBe('ended-without-finishing');
    expectNothingFromBlockK(sink);
  });

  it('wrong key: WRONG_KEY and no audio at all', async () => {
    const { outcome, sink } = await listenThrough(
      (bl) => bl,
      undefined,
      generateEncryptedFile(up.mxc),
    );
    expect(outcome.error?.code).toBe('WRONG_KEY');
    expect(sink.chunks).toHaveLength(0);
  });

  it('the tampered seqs really are what the proxy served (sanity of the fixture)', () => {
    expect(b.blocks.map(seqOf)).toEqual(b.blocks.map((_, i) => i));
  });
});

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ 0x10;
  return out;
}

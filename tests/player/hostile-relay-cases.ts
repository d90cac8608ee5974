/**
 * The hostile-relay contract (docs/format.md, MSC4016: a reader ends a stream whose seq does not
 * increase by exactly one): ONE table of what a relay may do to a broadcast's blocks and what a
 * listener must then report, run over every way of listening — the player over HTTP and over
 * WebSocket, and the web app's HLS view (hls.js) — the way tus-node-server runs one store suite
 * over every store. Twin implementations that share no tests drift; this table is what they
 * share. Each case changes the served blocks (blocks[i] is block i: the magic is not a block);
 * drivers (hostile-relay-contract.test.ts) serve them through the tampering proxies.
 */
import { BLOCK_HEADER_SIZE, encodeBlock, parseBlockHeader } from '@mxcast/format';
import type { Blocks } from './tampering-proxy.ts';

export type Transport = 'http' | 'ws' | 'hls';

/** What the listener must end in: the player's states and error codes (docs/player.md). */
export type Expected =
  | { state: 'finished' }
  | { state: 'ended-without-finishing' }
  | { state: 'error'; code: 'TAMPERED' | 'WRONG_KEY' };

export interface HostileCase {
  name: string;
  /** The blocks the hostile relay serves instead of `blocks`; `other` is another broadcast's. */
  tamper: (blocks: Blocks, other: Blocks) => Blocks;
  /**
   * The first block whose audio must never be heard (nothing at or after its start reaches
   * the output); undefined when every block is good (the honest case) or none may play.
   */
  firstBad?: number;
  /** The relay's index (and HLS playlist) describe the tampered stream as complete: a forged end. */
  forgeIndex?: boolean;
  /** The listener's link carries another key. */
  wrongKey?: boolean;
  expect: Expected;
  /** Where one transport must differ, and why (the transport knows more or less than the others). */
  except?: Partial<Record<Transport, { expect: Expected; why: string }>>;
}

/** The broadcast the table is written against: voice, 6 s (blocks 2–26), EOS on the last block. */
export const PRESET = 'voice';
export const SECONDS = 6;
/**
 * The relay's HLS segments for voice: round(2000 / 240) = 8 blocks (docs/protocol.md "HLS
 * view"), so segment 0 is blocks 2–9, segment 1 blocks 10–17, segment 2 blocks 18–25.
 */
export const PER_SEGMENT = 8;
export const segmentStart = (segment: number) => 2 + segment * PER_SEGMENT;
/** The block the relay tampers with: inside segment 1, not its first block. */
export const K = 12;

const TAMPERED: Expected = { state: 'error', code: 'TAMPERED' };
const UNFINISHED: Expected = { state: 'ended-without-finishing' };

const ct = (block: Uint8Array) => block.slice(BLOCK_HEADER_SIZE);
/** Re-frames a ciphertext under another seq with a valid CRC: only GCM can notice. */
const reframe = (seq: number, block: Uint8Array) => encodeBlock(seq, ct(block));
const at = (blocks: Blocks, i: number) => blocks[i] as Uint8Array;

export function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  out[index] = (out[index] as number) ^ 0x10;
  return out;
}

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: 'honest relay (the proxy passes everything)',
    tamper: (bl) => bl,
    expect: { state: 'finished' },
  },
  {
    name: 'bit flip in the ciphertext, CRC fixed up',
    tamper: (bl) => bl.map((x, i) => (i === K ? encodeBlock(K, flip(ct(x), 40)) : x)),
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'bit flip without fixing the CRC',
    tamper: (bl) => bl.map((x, i) => (i === K ? flip(x, BLOCK_HEADER_SIZE + 40) : x)),
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'block cut short by 16 bytes, re-framed with a valid CRC',
    tamper: (bl) => bl.map((x, i) => (i === K ? reframe(K, ct(x)) : x)),
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'replayed block (block K−1 again before K)',
    tamper: (bl) => [...bl.slice(0, K), at(bl, K - 1), ...bl.slice(K)],
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'reordered blocks (K+1 before K)',
    tamper: (bl) => [...bl.slice(0, K), at(bl, K + 1), at(bl, K), ...bl.slice(K + 2)],
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'dropped block',
    tamper: (bl) => [...bl.slice(0, K), ...bl.slice(K + 1)],
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'dropped block, later ones renumbered to hide the gap',
    tamper: (bl) => [...bl.slice(0, K), ...bl.slice(K + 1).map((x, j) => reframe(K + j, x))],
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'block spliced from another stream',
    tamper: (bl, other) => bl.map((x, i) => (i === K ? at(other, K) : x)),
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'block spliced from another position, renumbered',
    tamper: (bl) => bl.map((x, i) => (i === K ? reframe(K, at(bl, K + 2)) : x)),
    firstBad: K,
    expect: TAMPERED,
  },
  {
    name: 'whole segment dropped (blocks 10–17)',
    tamper: (bl) => [...bl.slice(0, segmentStart(1)), ...bl.slice(segmentStart(2))],
    firstBad: segmentStart(1),
    expect: TAMPERED,
  },
  {
    name: 'whole segment replayed (blocks 10–17 again in place of 18–25)',
    tamper: (bl) => [
      ...bl.slice(0, segmentStart(2)),
      ...bl.slice(segmentStart(1), segmentStart(2)),
      ...bl.slice(segmentStart(3)),
    ],
    firstBad: segmentStart(2),
    expect: TAMPERED,
  },
  {
    name: 'truncation at block K, index and playlist still honest',
    tamper: (bl) => bl.slice(0, K),
    firstBad: K,
    expect: UNFINISHED,
    except: {
      hls: {
        expect: TAMPERED,
        why: 'the playlist lists segment 1 as 8 whole blocks and the relay serves 2 of them: the bytes contradict the playlist',
      },
    },
  },
  {
    name: 'last block withheld, index and playlist still honest',
    tamper: (bl) => bl.slice(0, segmentStart(3)),
    firstBad: segmentStart(3),
    expect: UNFINISHED,
    except: {
      hls: {
        expect: TAMPERED,
        why: 'the finished playlist lists segment 3 and its part (block 26) and the relay serves no byte of them (416): the relay contradicts its playlist',
      },
    },
  },
  {
    name: 'truncation inside block K, index and playlist rewritten to match',
    tamper: (bl) => [...bl.slice(0, K), at(bl, K).subarray(0, 100)],
    forgeIndex: true,
    firstBad: K,
    expect: UNFINISHED,
    except: {
      ws: { expect: TAMPERED, why: 'a WebSocket message that is not one whole block' },
      hls: {
        expect: TAMPERED,
        why: 'a listed segment is a range of whole blocks; one that does not frame is broken framing at a known boundary',
      },
    },
  },
  {
    name: 'forged end: stream cut at block K, index and playlist say complete',
    tamper: (bl) => bl.slice(0, K),
    forgeIndex: true,
    firstBad: K,
    // Without the key a relay can cut but never forge the EOS page: never "finished".
    expect: UNFINISHED,
  },
  {
    name: 'wrong key in the link',
    tamper: (bl) => bl,
    wrongKey: true,
    expect: { state: 'error', code: 'WRONG_KEY' },
  },
];

/** How many of the served blocks are whole (a forged index counts no partial block). */
export function wholeBlocks(served: Blocks): number {
  return served.filter(
    (x) =>
      x.length >= BLOCK_HEADER_SIZE &&
      parseBlockHeader(x, 0, 'be').length === x.length - BLOCK_HEADER_SIZE,
  ).length;
}

/** The outcome a case requires of one transport. */
export function expectedFor(c: HostileCase, transport: Transport): Expected {
  return c.except?.[transport]?.expect ?? c.expect;
}

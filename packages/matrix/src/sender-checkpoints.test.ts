import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BroadcastEventError,
  cancelContent,
  checkpointContent,
  completionContent,
  parseCancel,
  parseCheckpoint,
  parseCompletion,
} from './broadcast-events.ts';
import {
  CheckpointMismatch,
  CheckpointRecorder,
  CheckpointVerifier,
  type CheckpointClaim,
} from './sender-checkpoints.ts';

/** A sender's run: `n` blocks of ciphertext, a claim every `every` blocks, the rest at the end. */
function broadcast(n: number, every: number) {
  const blocks = Array.from({ length: n }, () => randomBytes(96));
  const rec = new CheckpointRecorder();
  const checkpoints: CheckpointClaim[] = [];
  blocks.forEach((b, seq) => {
    rec.add(seq, b);
    if (rec.pending === every) checkpoints.push(rec.cut()!);
  });
  const completion = rec.cut() ?? checkpoints.pop()!;
  return { blocks, checkpoints, completion };
}

describe('sender checkpoints', () => {
  it('a listener that read every block verifies every interval; claims before or after blocks', () => {
    const { blocks, checkpoints, completion } = broadcast(25, 10);
    expect(checkpoints.map((c) => [c.fromSeq, c.blockCount])).toEqual([
      [0, 10],
      [10, 20],
    ]);
    expect([completion.fromSeq, completion.blockCount]).toEqual([20, 25]);
    // Live: each checkpoint arrives after its blocks.
    const live = new CheckpointVerifier();
    blocks.forEach((b, seq) => {
      live.onBlock(seq, b);
      if (seq === 14) live.addCheckpoint(checkpoints[0]!);
    });
    live.addCheckpoint(checkpoints[1]!);
    live.setCompletion(completion);
    expect(live.verified).toBe(3);
    expect(live.outcome('complete')).toBe('finished');
    // Replay of a finished broadcast: every claim known first.
    const replay = new CheckpointVerifier();
    checkpoints.forEach((c) => replay.addCheckpoint(c));
    replay.setCompletion(completion);
    blocks.forEach((b, seq) => replay.onBlock(seq, b));
    expect(replay.verified).toBe(3);
    expect(replay.outcome('complete')).toBe('finished');
  });

  it('a block swapped for other bytes fails its interval (TAMPERED), named by its first seq', () => {
    const { blocks, checkpoints } = broadcast(25, 10);
    const v = new CheckpointVerifier();
    v.addCheckpoint(checkpoints[0]!);
    v.addCheckpoint(checkpoints[1]!);
    const swapped = blocks.map((b, seq) => (seq === 13 ? randomBytes(96) : b));
    for (let seq = 0; seq < 10; seq++) v.onBlock(seq, swapped[seq]!);
    expect(v.verified).toBe(1);
    let err: unknown;
    try {
      for (let seq = 10; seq < 20; seq++) v.onBlock(seq, swapped[seq]!);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointMismatch);
    expect((err as CheckpointMismatch).seq).toBe(10);
  });

  it('digests alone (the player`s digest event) verify as the blocks do, and catch a swap', () => {
    const { blocks, checkpoints, completion } = broadcast(25, 10);
    const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
    const v = new CheckpointVerifier();
    blocks.forEach((b, seq) => {
      v.onBlockDigest(seq, sha(b));
      if (seq === 12) v.addCheckpoint(checkpoints[0]!);
    });
    v.addCheckpoint(checkpoints[1]!);
    v.setCompletion(completion);
    expect(v.verified).toBe(3);
    expect(v.outcome('complete')).toBe('finished');
    const forged = new CheckpointVerifier();
    forged.addCheckpoint(checkpoints[0]!);
    for (let seq = 0; seq < 9; seq++) forged.onBlockDigest(seq, sha(blocks[seq]!));
    expect(() => forged.onBlockDigest(9, sha(randomBytes(96)))).toThrow(CheckpointMismatch);
    expect(() => forged.onBlockDigest(10, new Uint8Array(31))).toThrow(/32 bytes/);
  });

  it('a relay that ends early and calls it complete is a cut, against the completion', () => {
    const { blocks, checkpoints, completion } = broadcast(25, 10);
    const v = new CheckpointVerifier();
    checkpoints.forEach((c) => v.addCheckpoint(c));
    v.setCompletion(completion);
    blocks.slice(0, 22).forEach((b, seq) => v.onBlock(seq, b));
    expect(v.verified).toBe(2);
    expect(v.outcome('complete')).toBe('cut');
  });

  it('blocks a listener skipped leave their interval unverifiable, not tampered', () => {
    const { blocks, checkpoints, completion } = broadcast(30, 10);
    const v = new CheckpointVerifier();
    // Joined live at seq 5 and was skipped from 14 to 17.
    blocks.forEach((b, seq) => {
      if (seq >= 5 && (seq < 14 || seq >= 17)) v.onBlock(seq, b);
    });
    checkpoints.forEach((c) => v.addCheckpoint(c));
    v.setCompletion(completion);
    expect([v.verified, v.unverifiable]).toEqual([1, 2]);
    expect(v.outcome('complete')).toBe('finished');
  });

  it('a block past the sender`s last one is TAMPERED, whichever arrives first', () => {
    const { blocks, completion } = broadcast(12, 100);
    const extra = randomBytes(96);
    const a = new CheckpointVerifier();
    a.setCompletion(completion);
    blocks.forEach((b, seq) => a.onBlock(seq, b));
    expect(() => a.onBlock(12, extra)).toThrow(CheckpointMismatch);
    const b = new CheckpointVerifier();
    [...blocks, extra].forEach((x, seq) => b.onBlock(seq, x));
    expect(() => b.setCompletion(completion)).toThrow(/sender's last is 11/);
  });

  it('cancelled by the sender, cut by the relay, interrupted: three different ends', () => {
    const { blocks } = broadcast(8, 100);
    const feed = (v: CheckpointVerifier) => blocks.forEach((b, seq) => v.onBlock(seq, b));
    const cancelled = new CheckpointVerifier();
    feed(cancelled);
    cancelled.setCancel({ blockCount: 8 });
    expect(cancelled.outcome('cancelled')).toBe('cancelled');
    const relayCancel = new CheckpointVerifier();
    feed(relayCancel);
    expect(relayCancel.outcome('cancelled')).toBe('cut');
    const silent = new CheckpointVerifier();
    feed(silent);
    expect(silent.outcome('unknown')).toBe('interrupted');
  });

  it('a completion that repeats the last checkpoint counts once', () => {
    const { blocks, checkpoints, completion } = broadcast(20, 10);
    const v = new CheckpointVerifier();
    blocks.forEach((b, seq) => v.onBlock(seq, b));
    checkpoints.forEach((c) => v.addCheckpoint(c));
    // The sender cut its last checkpoint at the very end: the completion carries it again.
    v.addCheckpoint(completion);
    v.setCompletion({ ...completion });
    expect([v.verified, v.unverifiable]).toEqual([2, 0]);
    expect(v.outcome('complete')).toBe('finished');
  });

  it('per-block hashes are bounded: the oldest interval becomes unverifiable', () => {
    const { blocks, checkpoints, completion } = broadcast(30, 10);
    const v = new CheckpointVerifier({ maxPending: 12 });
    blocks.forEach((b, seq) => v.onBlock(seq, b));
    checkpoints.forEach((c) => v.addCheckpoint(c));
    v.setCompletion(completion);
    expect([v.verified, v.unverifiable]).toEqual([1, 2]);
  });

  it('the events: contents parse back to the claims; a bad claim is refused', () => {
    const { checkpoints, completion } = broadcast(15, 10);
    const cp = checkpoints[0]!;
    expect(parseCheckpoint(JSON.parse(JSON.stringify(checkpointContent(cp))))).toEqual(cp);
    const full = {
      ...completion,
      fileSha256: randomBytes(32).toString('base64').slice(0, 43),
      size: 4242,
    };
    expect(parseCompletion(completionContent(full))).toEqual(full);
    expect(completionContent(full)).toMatchObject({ hashes: { sha256: full.fileSha256 } });
    expect(parseCancel(cancelContent({ blockCount: 7 }))).toEqual({ blockCount: 7 });
    const c = checkpointContent(cp);
    expect(() => parseCheckpoint({ ...c, digest: 'short' })).toThrow(/digest/);
    expect(() => parseCheckpoint({ ...c, block_count: 0 })).toThrow(/block_count/);
    expect(() => parseCheckpoint({ ...c, algorithm: 'md5' })).toThrow(BroadcastEventError);
    expect(() => parseCancel({})).toThrow(/block_count/);
  });
});

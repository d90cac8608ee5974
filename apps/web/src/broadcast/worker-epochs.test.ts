/**
 * WorkerEpochs with the CLI's EpochRekeyer: the "worker" here is the encoder worker's own code
 * path in one thread — a real ScheduleCipher that seals real blocks and answers each 'epoch'
 * message as encode-worker.ts does — so what is checked is the page's bookkeeping against it.
 */
import { describe, expect, it } from 'vitest';
import {
  BlockWriter,
  createScheduleCipher,
  epochFromFile,
  EpochRekeyer,
  generateEncryptedFile,
  generateEpoch,
  type ScheduleCipher,
} from '@mxcast/format';
import type { ToEncoder } from './encoder-protocol.ts';
import { WorkerEpochs } from './worker-epochs.ts';

async function rig() {
  const file = generateEncryptedFile();
  const cipher: ScheduleCipher = await createScheduleCipher([epochFromFile(file)], {
    backend: 'webcrypto',
  });
  const writer = new BlockWriter(cipher);
  // eslint-disable-next-line prefer-const -- assigned after the closure that uses it
  let page: WorkerEpochs;
  const post = (m: ToEncoder) => {
    if (m.type !== 'epoch') return;
    const { startSeq } = m.epoch;
    cipher.add(m.epoch).then(
      () => page.answered({ type: 'epoch', startSeq, ok: true }),
      (e: unknown) =>
        page.answered({ type: 'epoch', startSeq, ok: false, error: (e as Error).message }),
    );
  };
  page = new WorkerEpochs(file, post);
  /** Seals `n` blocks in the "worker" and tells the page, as 'bytes' messages do. */
  const seal = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const seq = writer.nextSeq;
      await writer.write(new Uint8Array(64).fill(seq));
      page.sealed(seq);
    }
  };
  return { cipher, page, seal };
}

describe('WorkerEpochs', () => {
  it('the header epoch at 2 and a rekey ahead: the worker switches exactly where the page says', async () => {
    const { cipher, page, seal } = await rig();
    await seal(2);
    const rekeyer = new EpochRekeyer({ cipher: page, nextSeq: () => page.nextSeq, leadBlocks: 3 });
    const header = await rekeyer.commitAt(2);
    expect(header.startSeq).toBe(2);
    await seal(5); // seqs 2..6
    const next = await rekeyer.commit();
    expect(next.startSeq).toBe(7 + 3);
    expect(page.schedule.epochs.map((e) => e.startSeq)).toEqual([0, 2, 10]);
    expect(cipher.schedule.epochs.map((e) => e.startSeq)).toEqual([0, 2, 10]);
    expect(cipher.schedule.indexFor(9)).toBe(1);
    expect(cipher.schedule.indexFor(10)).toBe(2);
  });

  it('an epoch at or before a block the worker sealed is refused and never enters the page schedule', async () => {
    const { cipher, page, seal } = await rig();
    await seal(6); // seqs 0..5
    await expect(page.add(generateEpoch(5))).rejects.toThrow(/block 5 is already sealed/);
    expect(page.schedule.epochs).toHaveLength(1);
    expect(cipher.schedule.epochs).toHaveLength(1);
    // The next one past the sealed blocks is taken.
    await page.add(generateEpoch(6));
    expect(cipher.schedule.epochs.map((e) => e.startSeq)).toEqual([0, 6]);
  });

  it('a stopped encoder fails what it was asked instead of leaving the rekey hanging', async () => {
    const file = generateEncryptedFile();
    const page = new WorkerEpochs(file, () => {});
    const adding = page.add(generateEpoch(4));
    page.fail('encoder: gone');
    await expect(adding).rejects.toThrow(/encoder: gone/);
    expect(page.schedule.epochs).toHaveLength(1);
  });
});

/**
 * Key epochs for the player's end-to-end tests (docs/format.md "Key epochs"): an encoded
 * broadcast resealed under a schedule of fresh epochs (the same Ogg pages, only the cipher
 * changes at each boundary), forged blocks for the tampering cases, and the continuity
 * measurement of decoded audio.
 */
import {
  BlockFramer,
  createBlockCipher,
  createScheduleCipher,
  encodeBlock,
  epochFile,
  generateEpoch,
  type Epoch,
} from '@mxcast/format';
import type { PcmChunk } from '@mxcast/player';
import { fileBytes, type EncodedBroadcast } from './broadcast-fixture.ts';

/** The plaintext of every block of `b` (its pages), opened with its own single key. */
export async function pagesOf(b: EncodedBroadcast): Promise<Uint8Array[]> {
  const cipher = await createBlockCipher(b.file);
  const framer = new BlockFramer();
  const blocks = framer.push(fileBytes(b));
  framer.finish();
  return Promise.all(blocks.map((x) => cipher.decrypt(x.seq, x.ciphertext)));
}

/**
 * `b` with its blocks resealed under epochs starting at `starts` (0 first): same pages, same
 * seqs, each block under the key of its epoch. Epoch 0 is `b.file`'s key, as a broadcast's first
 * epoch is the EncryptedFile of its event.
 */
export async function withEpochs(
  b: EncodedBroadcast,
  starts: number[],
): Promise<{ b: EncodedBroadcast; epochs: Epoch[] }> {
  const epochs = starts.map((s, i) =>
    i === 0 ? { startSeq: 0, key: b.file.key, iv: b.file.iv } : generateEpoch(s),
  );
  const cipher = await createScheduleCipher(epochs);
  const pages = await pagesOf(b);
  const blocks = await Promise.all(
    pages.map(async (page, seq) => encodeBlock(seq, await cipher.encrypt(seq, page))),
  );
  return { b: { ...b, blocks }, epochs };
}

/** Block `seq` carrying `page`, sealed under `epoch` whatever the schedule says (a forgery). */
export async function forgedBlock(
  epoch: Epoch,
  seq: number,
  page: Uint8Array,
): Promise<Uint8Array> {
  const cipher = await createBlockCipher(epochFile(epoch));
  return encodeBlock(seq, await cipher.encrypt(seq, page));
}

/**
 * How the decoded chunks follow one another: `gapSamples` is the largest jump between where a
 * chunk starts and where the previous one ended (0 = seamless; a missing block shows as one
 * block's samples, a repeated one as minus that), `total` the samples per channel decoded.
 */
export function continuity(chunks: readonly PcmChunk[], channels = 1) {
  let gapSamples = 0;
  let worst = 0;
  let total = 0;
  for (let i = 1; i < chunks.length; i++) {
    const prev = chunks[i - 1] as PcmChunk;
    const cur = chunks[i] as PcmChunk;
    const jump = cur.startSample - (prev.startSample + prev.pcm.length / channels);
    if (Math.abs(jump) > Math.abs(worst)) worst = jump;
  }
  gapSamples = worst;
  for (const c of chunks) total += c.pcm.length / channels;
  return { gapSamples, total };
}

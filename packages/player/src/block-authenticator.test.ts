import { describe, expect, it } from 'vitest';
import {
  BlockFramer,
  createBlockCipher,
  encodeBlock,
  generateEncryptedFile,
  type BlockCipher,
} from '@mxcast/format';
import { BlockAuthenticator } from './block-authenticator.ts';
import type { SourceBlock } from './block-source.ts';
import { PlayerError } from './player-error.ts';

async function block(
  cipher: BlockCipher,
  seq: number,
  text = `block ${seq}`,
): Promise<SourceBlock> {
  const bytes = encodeBlock(seq, await cipher.encrypt(seq, new TextEncoder().encode(text)));
  const [framed] = new BlockFramer({ expectMagic: false }).push(bytes);
  if (!framed) throw new Error('no block');
  return { seq, offset: null, size: bytes.length, ciphertext: framed.ciphertext, byteOrder: 'be' };
}

/** An authenticator that has opened the blocks `seqs`, in order. */
async function openedThrough(cipher: BlockCipher, seqs: number[]): Promise<BlockAuthenticator> {
  const auth = new BlockAuthenticator(cipher);
  for (const seq of seqs) await auth.open(await block(cipher, seq));
  return auth;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(PlayerError);
    expect((err as PlayerError).fatal).toBe(true);
    return (err as PlayerError).code;
  }
}

describe('BlockAuthenticator', async () => {
  const file = generateEncryptedFile('mxc://localhost/test');
  const cipher = await createBlockCipher(file);

  it('allows a skip the relay announced forward only (WebSocket skipped)', async () => {
    const auth = await openedThrough(cipher, [2, 3]);
    expect(auth.allowSkip(4)).toBe(false);
    expect(auth.allowSkip(7)).toBe(true);
    expect(await code(auth.open(await block(cipher, 7)))).toBe('ok');
    expect(() => auth.allowSkip(5)).toThrow(/replay/);
    expect(await code(auth.open(await block(cipher, 9)))).toBe('TAMPERED');
  });

  it('opens consecutive blocks', async () => {
    const auth = new BlockAuthenticator(cipher);
    for (let seq = 0; seq < 4; seq++) {
      expect(new TextDecoder().decode(await auth.open(await block(cipher, seq)))).toBe(
        `block ${seq}`,
      );
    }
    expect(auth.expectedSeq).toBe(4);
  });

  it('refuses duplicated, reordered and skipped blocks', async () => {
    for (const next of [1, 0, 4]) {
      const auth = await openedThrough(cipher, [0, 1, 2]);
      expect(await code(auth.open(await block(cipher, next)))).toBe('TAMPERED');
    }
  });

  it('allows one jump the player made, and only to the seq it asked for', async () => {
    const auth = await openedThrough(cipher, [0]);
    auth.allowJump(7);
    expect(await code(auth.open(await block(cipher, 8)))).toBe('TAMPERED');
    const again = await openedThrough(cipher, [0]);
    again.allowJump(7);
    await again.open(await block(cipher, 7));
    expect(await code(again.open(await block(cipher, 9)))).toBe('TAMPERED');
  });

  it('requires exactly the seq a reader derived itself (an HLS segment start), also over a follow-on', async () => {
    const auth = await openedThrough(cipher, [0, 1]);
    auth.requireNext(18);
    // Block 2 would have followed block 1, but the reader asked for the segment at 18.
    expect(await code(auth.open(await block(cipher, 2)))).toBe('TAMPERED');
    const again = await openedThrough(cipher, [0]);
    again.requireNext(18);
    expect(await code(again.open(await block(cipher, 10)))).toBe('TAMPERED');
    const ok = await openedThrough(cipher, [0]);
    ok.requireNext(18);
    expect(await code(ok.open(await block(cipher, 18)))).toBe('ok');
    expect(await code(ok.open(await block(cipher, 19)))).toBe('ok');
    expect(ok.expectedSeq).toBe(20);
    // Checked before anything authenticated too: a wrong seq is tampering, not a key problem.
    const fresh = new BlockAuthenticator(cipher);
    fresh.requireNext(0);
    expect(await code(fresh.open(await block(cipher, 1)))).toBe('TAMPERED');
  });

  it('calls a first failure a wrong key and a later one tampering', async () => {
    const other = await createBlockCipher(generateEncryptedFile('mxc://localhost/other'));
    expect(await code(new BlockAuthenticator(cipher).open(await block(other, 0)))).toBe(
      'WRONG_KEY',
    );
    const auth = await openedThrough(cipher, [0]);
    const flipped = await block(cipher, 1);
    const ct = flipped.ciphertext.slice();
    ct[3] = (ct[3] as number) ^ 0x01;
    expect(await code(auth.open({ ...flipped, ciphertext: ct }))).toBe('TAMPERED');
    // a block spliced in from another stream under the same seq
    const auth2 = await openedThrough(cipher, [0]);
    expect(await code(auth2.open(await block(other, 1)))).toBe('TAMPERED');
  });
});

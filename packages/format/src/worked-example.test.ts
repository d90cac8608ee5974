/**
 * docs/format.md works one block through byte by byte. This test reads the bytes printed there
 * and checks that the library writes exactly them (both backends) and reads them back, so the
 * document cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createBlockCipher, type CipherBackend } from './block-cipher.ts';
import { decryptAll } from './decrypt-stream.ts';
import { encryptAll } from './encrypt-stream.ts';
import { inspectStream } from './stream-inspector.ts';
import { encryptedFileFor } from './testing/stream-fixtures.ts';

const doc = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/format.md'),
  'utf8',
);

/** The hex bytes of the fenced block after the worked-example marker. */
function documentedBytes(): Uint8Array {
  const after = doc.split('<!-- worked-example')[1];
  const block = after?.split('```')[1];
  if (!block) throw new Error('worked example not found in docs/format.md');
  const hex = block
    .split('\n')
    .slice(2) // the language line (empty) and the column heading
    .flatMap((line) => {
      // offset, then hex bytes up to the field name
      const tokens = line.trim().split(/\s+/).slice(1);
      const end = tokens.findIndex((t) => !/^[0-9a-f]{2}$/.test(t));
      return end === -1 ? tokens : tokens.slice(0, end);
    })
    .filter((t) => t !== '');
  return Uint8Array.from(hex, (h) => parseInt(h, 16));
}

const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const iv = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
const plaintext = new TextEncoder().encode('hello mxcast');

describe('docs/format.md worked example', () => {
  it('is 48 bytes and the key/iv shown there are the ones used here', () => {
    expect(documentedBytes()).toHaveLength(48);
    const file = encryptedFileFor(key, iv);
    expect(doc).toContain(file.key.k);
    expect(doc).toContain(file.iv);
  });

  for (const backend of ['node', 'webcrypto'] as CipherBackend[]) {
    it(`is what the library writes and reads (${backend})`, async () => {
      const cipher = await createBlockCipher(encryptedFileFor(key, iv), { backend });
      const bytes = await encryptAll(cipher, [plaintext]);
      expect(bytes).toEqual(documentedBytes());
      const [block] = await decryptAll(cipher, documentedBytes());
      expect(new TextDecoder().decode(block?.plaintext)).toBe('hello mxcast');
      expect(inspectStream(documentedBytes())).toMatchObject({
        ok: true,
        blocks: [{ seq: 0, length: 28 }],
      });
    });
  }
});

/**
 * `mxcast encrypt`: stdin → MXC v3 (MSC4016) on stdout, under a fresh key and IV written to the
 * --info-out file (mode 0600). Thin over @mxcast/format.
 */
import {
  BLOCK_HEADER_SIZE,
  BlockWriter,
  DEFAULT_MAX_BLOCK_LENGTH,
  GCM_TAG_SIZE,
  createBlockCipher,
  generateEncryptedFile,
} from '@mxcast/format';
import {
  CliError,
  integerOption,
  parseCommandArgs,
  stringOptions,
  type Command,
} from '../command-kit.ts';
import { flushOut, openInput, writeInfoFile, writeOut } from './format-stdio.ts';

const DEFAULT_BLOCK_SIZE = 32 * 1024;
const MAX_BLOCK_SIZE = DEFAULT_MAX_BLOCK_LENGTH - GCM_TAG_SIZE;

const help = `Usage: mxcast encrypt --info-out FILE [--block-size BYTES] < plain > file.mxc

Encrypts stdin into the MSC4016 v3 container on stdout: the magic 4D 58 43 03, then one
AES-256-GCM block per BYTES of input (the last may be shorter), each with a 16-byte
header (FF FF FF FF, seq, length, CRC-32; big-endian). A fresh 256-bit key and 96-bit IV
are generated; the EncryptedFile JSON ({v, key (JWK), iv}) goes to FILE, created with
mode 0600 because it holds the key. Keep it secret; it never goes to stdout or stderr.

  --info-out FILE      where to write the EncryptedFile JSON (required)
  --block-size BYTES   plaintext bytes per block, 1..${MAX_BLOCK_SIZE} (default ${DEFAULT_BLOCK_SIZE})

Empty input gives the magic alone (a stream of no blocks). See docs/format.md.

Exit status: 0 done, 1 I/O error, 2 bad arguments.`;

export const encryptCommand: Command = {
  name: 'encrypt',
  summary: 'Encrypt stdin into an MSC4016 v3 stream on stdout (key to --info-out, mode 0600)',
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, stringOptions('info-out', 'block-size'));
    const infoOut = values['info-out'];
    if (!infoOut) throw new CliError('--info-out FILE is required (the key is written there)');
    const blockSize = integerOption(
      '--block-size',
      values['block-size'],
      1,
      MAX_BLOCK_SIZE,
      DEFAULT_BLOCK_SIZE,
    );

    const file = generateEncryptedFile();
    await writeInfoFile(infoOut, file);
    const writer = new BlockWriter(await createBlockCipher(file));
    await writeOut(writer.magic());

    // Gather input into blockSize pieces without copying more than one partial block.
    const pending = new Uint8Array(blockSize);
    let filled = 0;
    const reader = openInput().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let at = 0;
      while (at < value.length) {
        if (filled === 0 && value.length - at >= blockSize) {
          await writeOut(await writer.write(value.subarray(at, at + blockSize)));
          at += blockSize;
          continue;
        }
        const take = Math.min(blockSize - filled, value.length - at);
        pending.set(value.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === blockSize) {
          await writeOut(await writer.write(pending));
          filled = 0;
        }
      }
    }
    if (filled > 0) await writeOut(await writer.write(pending.subarray(0, filled)));
    await flushOut();
    process.stderr.write(
      `mxcast encrypt: ${writer.nextSeq} block(s) of up to ${blockSize} + ${BLOCK_HEADER_SIZE + GCM_TAG_SIZE} bytes; key in ${infoOut}\n`,
    );
    return 0;
  },
};

/**
 * `mxcast decrypt`: MXC v3 on stdin → plaintext on stdout. A block is written only after its GCM
 * tag verifies; the first failure ends the run with one line naming the block and the reason.
 */
import {
  DEFAULT_MAX_BLOCK_LENGTH,
  FormatError,
  createBlockCipher,
  createDecryptStream,
} from '@mxcast/format';
import { CliError, parseCommandArgs, stringOptions, type Command } from '../command-kit.ts';
import {
  describeFormatError,
  flushOut,
  maxBlockLengthOption,
  openInput,
  readInfoFile,
  writeOut,
} from './format-stdio.ts';

const help = `Usage: mxcast decrypt --info FILE [--max-block-length BYTES] < file.mxc > plain

Decrypts an MSC4016 v3 stream from stdin to stdout. FILE holds the EncryptedFile JSON
({v, key, iv}) or an event content with a "file" key. Reads both the big-endian form
this project writes and the legacy little-endian, zero-CRC form, telling them apart
from the first block header.

Each block is checked (registration code, length, CRC, consecutive seq) and its
AES-256-GCM tag verified before any of its bytes are written. On the first failure
nothing more is written, and one line on stderr names the block and the reason:
  mxcast decrypt: block 3 at offset 3300: AUTH_FAILED: block 3: GCM tag does not verify …

  --info FILE                 the EncryptedFile JSON (required)
  --max-block-length BYTES    refuse blocks longer than this (default ${DEFAULT_MAX_BLOCK_LENGTH})

Exit status: 0 whole stream decrypted, 1 bad or truncated stream (codes in docs/format.md),
2 bad arguments or info file.`;

export const decryptCommand: Command = {
  name: 'decrypt',
  summary: 'Decrypt an MSC4016 v3 stream from stdin to stdout (key from --info)',
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, stringOptions('info', 'max-block-length'));
    if (!values.info) throw new CliError('--info FILE is required (the EncryptedFile JSON)');
    const maxBlockLength = maxBlockLengthOption(values['max-block-length']);
    const cipher = await createBlockCipher(await readInfoFile(values.info));
    const reader = openInput()
      .pipeThrough(createDecryptStream(cipher, { maxBlockLength }))
      .getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await writeOut(value.plaintext);
      }
    } catch (err) {
      await flushOut();
      if (err instanceof FormatError) throw new CliError(describeFormatError(err), 1);
      throw err;
    }
    await flushOut();
    return 0;
  },
};

/**
 * Byte plumbing shared by `mxcast encrypt`, `decrypt` and `inspect`: stdin or a file as web
 * streams, stdout with backpressure, the info file (key material: mode 0600), the
 * --max-block-length option, and a one-line description of a FormatError that names the block and
 * the reason.
 */
import { createReadStream } from 'node:fs';
import { chmod, open, readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  DEFAULT_MAX_BLOCK_LENGTH,
  FormatError,
  parseEncryptedFile,
  type EncryptedFile,
} from '@mxcast/format';
import { CliError, integerOption } from '../command-kit.ts';

/** stdin (path undefined or '-') or a file, as a web ReadableStream of bytes. */
export function openInput(path?: string): ReadableStream<Uint8Array> {
  const node = path === undefined || path === '-' ? process.stdin : createReadStream(path);
  return Readable.toWeb(node) as ReadableStream<Uint8Array>;
}

/** Writes to stdout, waiting for 'drain' when the pipe is full (no unbounded buffering). */
export async function writeOut(bytes: Uint8Array): Promise<void> {
  if (bytes.length === 0) return;
  if (process.stdout.write(bytes)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      process.stdout.off('drain', done);
      process.stdout.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    process.stdout.once('drain', done);
    process.stdout.once('error', done);
  });
}

/** Resolves once everything written to stdout has been handed to the OS. */
export function flushOut(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}

/** Writes the EncryptedFile JSON readable by the owner only (it holds the key). */
export async function writeInfoFile(path: string, file: EncryptedFile): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'w', 0o600);
    // An existing file keeps its mode on open: make sure it is 0600 before the key goes in.
    await chmod(path, 0o600);
    await handle.writeFile(JSON.stringify(file, null, 2) + '\n');
  } catch (err) {
    throw new CliError(`cannot write --info-out ${path}: ${(err as Error).message}`, 1);
  } finally {
    await handle?.close();
  }
}

/** `--max-block-length BYTES` of decrypt and inspect: 16 (a header alone) up to a u32 length. */
export function maxBlockLengthOption(text: string | undefined): number {
  return integerOption('--max-block-length', text, 16, 0xffffffff, DEFAULT_MAX_BLOCK_LENGTH);
}

/** Reads and validates an EncryptedFile (or event content with `file`) from `path`. */
export async function readInfoFile(path: string): Promise<EncryptedFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --info ${path}: ${(err as Error).message}`);
  }
  try {
    return parseEncryptedFile(text);
  } catch (err) {
    if (err instanceof FormatError) throw new CliError(`--info ${path}: ${err.message}`);
    throw err;
  }
}

/** "block 3 at offset 1234: AUTH_FAILED: …" — one line naming the block and the reason. */
export function describeFormatError(err: FormatError): string {
  const where =
    err.seq !== undefined
      ? `block ${err.seq}${err.offset !== undefined ? ` at offset ${err.offset}` : ''}`
      : err.offset !== undefined
        ? `offset ${err.offset}`
        : 'stream';
  return `${where}: ${err.code}: ${err.message}`.replace(/\s*\n\s*/g, ' ');
}

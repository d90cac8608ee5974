/**
 * Fixed numbers of the MSC4016 v3 container (docs/format.md "The container", MSC4016 "File
 * header" and block layout).
 */

/** File magic: "MXC" followed by the format version 0x03 (MSC4016). */
export const MAGIC: Uint8Array = Uint8Array.of(0x4d, 0x58, 0x43, 0x03);
export const MAGIC_SIZE = 4;
/** The version byte that follows "MXC" in the magic. */
export const FORMAT_VERSION = 0x03;
/** reg(4) ‖ seq(4) ‖ len(4) ‖ crc(4). */
export const BLOCK_HEADER_SIZE = 16;
/** The registration code that starts every block header (MSC4016: lets a parser resync). */
export const REGISTRATION_CODE = 0xffffffff;
/** AES-GCM authentication tag appended to each block's ciphertext. */
export const GCM_TAG_SIZE = 16;
/** A block's `len` counts ciphertext plus tag, so an empty plaintext gives the minimum. */
export const MIN_BLOCK_LENGTH = GCM_TAG_SIZE;
/** Default reader limit on `len`: larger blocks are refused before they are buffered. */
export const DEFAULT_MAX_BLOCK_LENGTH = 1024 * 1024;
/** Highest seq a writer may use: the next one would wrap and reuse an IV (MSC4016). */
export const MAX_SEQ = 0xffffffff;
/** Size of EncryptedFile.iv: the file part of the per-block 128-bit GCM IV. */
export const FILE_IV_SIZE = 12;
/** AES-256 key size in bytes. */
export const KEY_SIZE = 32;

/**
 * Integer byte order of a stream: `be` is what this project writes (docs/format.md "The
 * container"); `le` is the legacy form of the experimental MSC4016 writer (seq, len, IV prefix
 * and AAD little-endian, crc 0).
 */
export type ByteOrder = 'be' | 'le';

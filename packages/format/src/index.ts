/**
 * @mxcast/format: the MSC4016 v3 container (docs/format.md). Bytes, web streams and WebCrypto only;
 * a node:crypto fast path serves the same interface in Node.
 */
export {
  MAGIC,
  MAGIC_SIZE,
  FORMAT_VERSION,
  BLOCK_HEADER_SIZE,
  REGISTRATION_CODE,
  GCM_TAG_SIZE,
  MIN_BLOCK_LENGTH,
  DEFAULT_MAX_BLOCK_LENGTH,
  MAX_SEQ,
  FILE_IV_SIZE,
  KEY_SIZE,
  type ByteOrder,
} from './format-constants.ts';
export {
  FORMAT_ERROR_CODES,
  FormatError,
  isFormatError,
  type FormatErrorCode,
} from './format-error.ts';
export { crc32, crc32Portable, crc32Implementation } from './crc32.ts';
export { concatBytes } from './concat-bytes.ts';
export {
  parseBlockHeader,
  writeBlockHeader,
  computeBlockCrc,
  detectByteOrder,
  encodeBlock,
  sealBlockHeader,
  type BlockHeader,
} from './block-header.ts';
export { BlockFramer, type BlockFramerOptions, type FramedBlock } from './block-framer.ts';
export {
  generateEncryptedFile,
  parseEncryptedFile,
  encryptedFileSecrets,
  ENCRYPTED_FILE_VERSION,
  type EncryptedFile,
  type JsonWebKeyAesGcm,
} from './encrypted-file.ts';
export {
  createBlockCipher,
  type BlockCipher,
  type BlockCipherOptions,
  type CipherBackend,
  type SyncBlockCipher,
} from './block-cipher.ts';
export {
  KeySchedule,
  parseEpoch,
  generateEpoch,
  epochFromFile,
  epochFile,
  type Epoch,
} from './key-schedule.ts';
export { createScheduleCipher, type ScheduleCipher } from './key-schedule-cipher.ts';
export { EpochRekeyer, type EpochRekeyerOptions, type EpochAnnouncement } from './epoch-rekeyer.ts';
export { blockIv, blockAad } from './block-nonce.ts';
export { BlockWriter, type BlockWriterOptions } from './block-writer.ts';
export { createEncryptStream, encryptAll, type EncryptStreamOptions } from './encrypt-stream.ts';
export {
  createDecryptStream,
  decryptAll,
  type DecryptedBlock,
  type DecryptStreamOptions,
} from './decrypt-stream.ts';
export { findBlockBoundary, type BlockBoundary, type ResyncOptions } from './block-resync.ts';
export { encodeBase64, encodeBase64Url, decodeBase64, decodeBase64Url } from './base64-codec.ts';
export {
  inspectStream,
  type StreamReport,
  type InspectedBlock,
  type ResyncPoint,
} from './stream-inspector.ts';

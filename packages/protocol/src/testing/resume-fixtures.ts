/**
 * A test-only resume record (resume-record.ts), shared by the protocol's validator test and the
 * capture's state-file tests. Never imported by the library.
 */
import type { EncryptedFile } from '@mxcast/format';
import type { ResumeRecord } from '../resume-record.ts';
import { streamGeometryOf } from '../stream-geometry.ts';

/** Audio block size of the voice preset (20 ms frames, 12 a block, 32 kbit/s). */
export const VOICE_BLOCK_BYTES = 1031;

/**
 * A voice broadcast of `file` (its `url` the mxc) eight audio blocks in, as the CLI capture
 * writes it: no `pageSeq`, no `ahead`, no `epochs` (a record from before key epochs).
 */
export function resumeRecordOf(file: EncryptedFile): ResumeRecord {
  return {
    version: 1,
    relay: 'https://relay.test',
    mxc: file.url ?? 'mxc://relay.test/abcdefghijklmnopqrstuv',
    file,
    preset: 'voice',
    geometry: streamGeometryOf(
      { frameMs: 20, framesPerBlock: 12, bitrate: 32000, blockBytes: VOICE_BLOCK_BYTES },
      1,
    ),
    title: 'Show',
    serial: 1234,
    nextSeq: 10,
    // The magic, the two Ogg header blocks (100 bytes each here), eight audio blocks.
    offset: 4 + 2 * 100 + 8 * VOICE_BLOCK_BYTES,
    granule: String(8 * 12 * 960),
    updatedAt: '2026-12-02T14:00:00.000Z',
  };
}

/**
 * One upload connection writing one media (streaming PUT, tus PATCH or the WebSocket upload):
 * checks who may write and from where, frames the incoming bytes block by block, stores each valid
 * block at once (so it is fanned out and kept even if the connection drops), and completes the
 * media on a clean end. At most one session writes a media at a time.
 */
import type { FormatError } from '@mxcast/format';
import type { MediaRecord } from '../storage/media-record.ts';
import type { MediaStore } from './media-store.ts';
import type { RelayConfig } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import { UploadFramer } from '../storage/upload-framer.ts';

export class UploadSession {
  private readonly framer: UploadFramer;
  private closed = false;
  /** Absolute offset just past the last byte handed to the framer (stored or buffered). */
  private received: number;
  /** Set once the stored length reached the declared Upload-Length: the media is completing. */
  private completion: Promise<void> | null = null;
  private stopConnection: (() => void) | null = null;
  /** Set when a newer upload took over (the answer to this one, if it still arrives, says so). */
  preempted = false;

  private constructor(
    private readonly store: MediaStore,
    readonly rec: MediaRecord,
    private readonly userId: string,
    config: RelayConfig,
  ) {
    this.received = rec.byteLength;
    this.framer = new UploadFramer({
      maxBlockLength: config.limits.maxBlockLength,
      startOffset: rec.byteLength,
      expectedSeq: rec.blockCount,
      byteOrder: rec.byteOrder ?? undefined,
    });
  }

  /** Checks owner, state, offset and limits, then takes the media's write lock. */
  static open(
    store: MediaStore,
    config: RelayConfig,
    rec: MediaRecord,
    userId: string,
    offset: number,
  ): UploadSession {
    if (rec.owner !== userId)
      throw new RelayError('M_FORBIDDEN', 'only the creator of this media may upload to it');
    checkWritable(rec);
    checkOffset(rec, offset);
    // A pending media turns live at its first byte: its owner's live and stored quotas are checked
    // here as well, so every transport refuses with a plain HTTP answer before any body is read or
    // any WebSocket handshake (the store checks again at the first block, where it counts).
    if (rec.byteLength === 0) store.quotas.checkFirstByte(rec.owner, Date.now());
    // A new upload at the right offset takes over from one still open: after a network cut the old
    // connection may never report its end (no FIN on a half-open TCP connection), and the
    // broadcaster must be able to resume. Like tusd, the newer request wins; the older is stopped.
    if (rec.uploader instanceof UploadSession) rec.uploader.preempt();
    const open = store.uploadsByUser.get(userId) ?? 0;
    if (open >= config.limits.maxLiveUploadsPerUser) {
      throw new RelayError(
        'M_LIMIT_EXCEEDED',
        `${open} uploads already open for this user, the limit is ${config.limits.maxLiveUploadsPerUser}`,
      );
    }
    const session = new UploadSession(store, rec, userId, config);
    rec.uploader = session;
    store.uploadsByUser.set(userId, open + 1);
    return session;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Registers how to stop this session's connection when a newer upload takes over. */
  onPreempt(stop: () => void): void {
    this.stopConnection = stop;
  }

  /** Closes this session for a newer one and stops its connection. */
  preempt(): void {
    this.preempted = true;
    this.close();
    this.stopConnection?.();
  }

  /** Offset of the first byte not yet stored as part of a whole block. */
  get offset(): number {
    return this.rec.byteLength;
  }

  /**
   * Frames and stores `chunk`; throws M_BAD_BLOCK / M_TOO_LARGE / limits after keeping the valid
   * blocks before. With a declared Upload-Length (tus 1.0.0) no byte past it is framed, so a block
   * that would cross it is never stored nor fanned out; the stored length reaching it exactly
   * completes the media at once (a media is never left live at its full declared length).
   */
  push(chunk: Uint8Array): void {
    const limit = this.rec.uploadLength;
    if (this.completion) {
      if (chunk.length === 0) return;
      throw pastUploadLength(this.received, limit ?? this.received);
    }
    this.checkOpen();
    if (limit !== null && this.received + chunk.length > limit) {
      const room = Math.max(0, limit - this.received);
      if (room > 0) this.frame(chunk.subarray(0, room), limit);
      throw pastUploadLength(this.received + chunk.length - room, limit);
    }
    this.frame(chunk, limit);
  }

  private frame(chunk: Uint8Array, limit: number | null): void {
    this.received += chunk.length;
    const step = this.framer.push(chunk);
    this.store.commitBlocks(this.rec, step.blocks);
    if (step.error) throw blockError(step.error);
    if (limit !== null && this.rec.byteLength === limit) {
      this.completion = this.finish();
      // Whoever ends the request awaits it; a WebSocket upload may not, so never unhandled.
      this.completion.catch(() => {});
    }
  }

  /** Resolves once a media completed by reaching its Upload-Length is flushed; null otherwise. */
  get completing(): Promise<void> | null {
    return this.completion;
  }

  /** The input ended: completes the media if it ended on a block boundary. */
  async finish(): Promise<void> {
    if (this.completion) return this.completion;
    this.checkOpen();
    try {
      this.framer.finish();
    } catch (err) {
      throw blockError(err as FormatError);
    }
    if (this.rec.blockCount === 0) {
      throw new RelayError('M_BAD_BLOCK', 'upload ended without a single block', {
        fields: { 'org.matrix.msc4016.reason': 'TRUNCATED' },
      });
    }
    this.close();
    await this.store.complete(this.rec);
  }

  /** Releases the write lock; the media stays as it is (live and resumable if it had bytes). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rec.uploader === this) this.rec.uploader = null;
    const n = (this.store.uploadsByUser.get(this.userId) ?? 1) - 1;
    if (n > 0) this.store.uploadsByUser.set(this.userId, n);
    else this.store.uploadsByUser.delete(this.userId);
  }

  private checkOpen(): void {
    if (this.closed) throw new RelayError('M_UNKNOWN', 'upload session closed');
    checkWritable(this.rec);
  }
}

export function checkWritable(rec: MediaRecord): void {
  if (rec.state === 'complete')
    throw new RelayError('M_CANNOT_OVERWRITE_MEDIA', 'media is already complete');
  if (rec.state === 'cancelled')
    throw new RelayError('M_CANNOT_OVERWRITE_MEDIA', 'media was cancelled by its owner');
}

/** An upload continues exactly where the stored bytes end (409 with the stored length otherwise). */
export function checkOffset(rec: MediaRecord, offset: number): void {
  if (offset !== rec.byteLength) {
    throw new RelayError(
      'M_CONFLICT',
      `upload offset ${offset} does not match the stored length ${rec.byteLength}`,
      { fields: { 'org.matrix.msc4016.offset': rec.byteLength } },
    );
  }
}

/** The answer to bytes past the declared Upload-Length (tus 1.0.0: they are never accepted). */
function pastUploadLength(end: number, limit: number): RelayError {
  return new RelayError(
    'M_TOO_LARGE',
    `the upload goes on to at least byte ${end}, past its Upload-Length of ${limit}`,
    { fields: { 'org.matrix.msc4016.reason': 'PAST_UPLOAD_LENGTH' } },
  );
}

/** A FormatError as the Matrix error naming the block's seq and the reason. */
export function blockError(err: FormatError): RelayError {
  const where = `${err.seq !== undefined ? `block ${err.seq}` : 'stream'} at offset ${err.offset ?? '?'}`;
  const code = err.code === 'LENGTH_OVER_LIMIT' ? 'M_TOO_LARGE' : 'M_BAD_BLOCK';
  return new RelayError(code, `${where}: ${err.code}: ${err.message}`, {
    fields: {
      'org.matrix.msc4016.reason': err.code,
      'org.matrix.msc4016.seq': err.seq ?? null,
      'org.matrix.msc4016.offset': err.offset ?? null,
    },
  });
}

/**
 * Blocks over HTTP: one `GET …/download` with `Range: bytes=N-` (open-ended, so on a live
 * media it keeps streaming as the file grows — docs/protocol.md "Download") through the
 * key-less BlockFramer of packages/format. Starting points are always block boundaries the
 * player computed (geometry, index, last good block), so the framer is told the offset and
 * the seq it must see; a framing error mid-stream is therefore a tampering relay, never noise.
 * Only an offset computed from a geometry (`computed`) that does not frame as the first block
 * is reported as MisalignedStart (block sizes vary), for the player to bisect instead.
 */
import { BlockFramer, type ByteOrder, isFormatError } from '@mxcast/format';
import {
  MisalignedStart,
  type BlockSource,
  type BlockSourceEvents,
  type SourceBlock,
  type SourceEnd,
  type SourceStart,
} from './block-source.ts';
import { PlayerError, isPlayerError } from './player-error.ts';
import {
  authHeaders,
  downloadUrl,
  fetchIndex,
  httpError,
  type MediaLocation,
} from './relay-index.ts';

export interface HttpBlockSourceOptions extends BlockSourceEvents {
  location: MediaLocation;
  fetch?: typeof fetch;
  maxBlockLength?: number;
  /** Known byte order (from the index or the header blocks); told from the first header otherwise. */
  byteOrder?: ByteOrder;
}

export class HttpBlockSource implements BlockSource {
  readonly transport = 'http';
  byteOrder: ByteOrder | undefined;
  readonly #options: HttpBlockSourceOptions;
  readonly #fetch: typeof fetch;

  constructor(options: HttpBlockSourceOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.byteOrder = options.byteOrder;
  }

  async *blocks(start: SourceStart, signal: AbortSignal): AsyncGenerator<SourceBlock, SourceEnd> {
    if (start.kind === 'live') {
      // The newest complete block is the live edge: starting there plays at once, at most one
      // block behind the broadcaster (the relay's index says where it is).
      this.#options.onRequest?.();
      const index = await fetchIndex(this.#options.location, this.#fetch, signal);
      this.#options.onLiveEdge?.(index.block_count);
      if (index.interrupted !== undefined) this.#options.onInterrupted?.(index.interrupted);
      if (index.header_end === null || index.block_size === null || index.block_count < 3) {
        start = { kind: 'offset', offset: 0, seq: 0 };
      } else {
        const seq = index.block_count - 1;
        start = { kind: 'offset', offset: index.header_end + (seq - 2) * index.block_size, seq };
      }
    }
    const { offset, seq, end } = start;
    const headers: Record<string, string> = { ...authHeaders(this.#options.location) };
    if (offset > 0 || end !== undefined)
      headers.range = `bytes=${offset}-${end !== undefined ? end - 1 : ''}`;
    this.#options.onRequest?.();
    let res: Response;
    try {
      res = await this.#fetch(downloadUrl(this.#options.location), { headers, signal });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new PlayerError('NETWORK', `download from byte ${offset}: ${(err as Error).message}`, {
        fatal: false,
        cause: err,
        seq,
        offset,
      });
    }
    if (start.kind === 'offset' && start.computed && res.status === 416) {
      throw new MisalignedStart(offset, seq, 'the offset is past the end');
    }
    if (!res.ok) throw await httpError(res, `download from byte ${offset}`);
    if (offset > 0 && res.status !== 206) {
      await res.body?.cancel();
      throw new PlayerError(
        'RELAY_ERROR',
        `relay ignored Range: bytes=${offset}- (HTTP ${res.status})`,
        { fatal: true, status: res.status },
      );
    }
    const complete =
      /\/\d+$/.test(res.headers.get('content-range') ?? '') ||
      (offset === 0 && !!res.headers.get('content-length'));
    const framer = new BlockFramer({
      expectMagic: offset === 0,
      startOffset: offset === 0 ? 0 : offset,
      expectedSeq: seq,
      ...(this.byteOrder ? { byteOrder: this.byteOrder } : {}),
      ...(this.#options.maxBlockLength ? { maxBlockLength: this.#options.maxBlockLength } : {}),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let yielded = 0;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          throw new PlayerError(
            'NETWORK',
            `download cut at byte ${framer.offset}: ${(err as Error).message}`,
            { fatal: false, cause: err, offset: framer.offset },
          );
        }
        if (chunk.done) break;
        let framed;
        try {
          framed = frame(framer, chunk.value);
        } catch (err) {
          if (start.computed && yielded === 0 && isPlayerError(err) && err.code === 'TAMPERED') {
            throw new MisalignedStart(offset, seq, err.message);
          }
          throw err;
        }
        for (const block of framed) {
          yielded++;
          // One loopback chunk can hold many blocks: a seek must not wait for all of them.
          if (signal.aborted) throw signal.reason;
          this.byteOrder = block.byteOrder;
          yield {
            seq: block.seq,
            offset: block.offset,
            size: block.bytes.length,
            ciphertext: block.ciphertext,
            byteOrder: block.byteOrder,
          };
        }
      }
      if (!framer.atBoundary) {
        // A body that stops inside a block: the relay cut it (or lied about its end).
        throw new PlayerError('NETWORK', `download ended inside a block at byte ${framer.offset}`, {
          fatal: false,
          offset: framer.offset,
        });
      }
      if (end !== undefined) return { kind: 'range-done' };
      return { kind: 'ended', state: complete ? 'complete' : 'unknown' };
    } finally {
      reader.releaseLock();
      if (!signal.aborted) await res.body?.cancel().catch(() => {});
    }
  }
}

function frame(framer: BlockFramer, chunk: Uint8Array) {
  try {
    return framer.push(chunk);
  } catch (err) {
    if (isFormatError(err)) {
      // Offsets and seqs are known here, so broken framing is a relay changing bytes
      // (docs/format.md "CRC scope": the CRC is for resync, never integrity; a wrong one at a known
      // boundary means tampering).
      throw new PlayerError('TAMPERED', `framing broken: ${err.message}`, {
        fatal: true,
        cause: err,
        ...(err.seq !== undefined ? { seq: err.seq } : {}),
        ...(err.offset !== undefined ? { offset: err.offset } : {}),
      });
    }
    throw err;
  }
}

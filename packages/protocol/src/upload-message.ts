/**
 * The JSON text messages of the browser upload WebSocket, `{P}/upload/ws/{S}/{ID}`
 * (docs/protocol.md "WebSocket upload"): binary messages carry the file's bytes; the relay
 * answers `ack`, `complete` or `error`, and the client sends `finish` to complete.
 */
import { isCount, parseJsonObject } from './json-object.ts';
import { matrixErrorOf } from './matrix-error.ts';

export type UploadServerMessage =
  /** Stored up to `offset` (a block boundary), `blocks` blocks in all. */
  | { type: 'ack'; offset: number; blocks: number }
  /** The answer to `finish`: the media is complete. */
  | { type: 'complete'; sha256: string; offset: number; blocks: number }
  /** A Matrix error (a bad block, say) before the relay closes the socket with 1008. */
  | { type: 'error'; errcode: string; error: string; reason?: string };

/** What the client sends as text: only `finish`. */
export type UploadClientMessage = { type: 'finish' };
export const FINISH_MESSAGE: UploadClientMessage = { type: 'finish' };

/** The relay's message in `text`, or null when it is not one this version knows (skip it). */
export function parseUploadMessage(text: string): UploadServerMessage | null {
  const m = parseJsonObject(text);
  switch (m?.type) {
    case 'ack':
      return isCount(m.offset) && isCount(m.blocks)
        ? { type: 'ack', offset: m.offset, blocks: m.blocks }
        : null;
    case 'complete':
      return typeof m.sha256 === 'string' && isCount(m.offset) && isCount(m.blocks)
        ? { type: 'complete', sha256: m.sha256, offset: m.offset, blocks: m.blocks }
        : null;
    case 'error': {
      // The same body as an HTTP error, with `type` added (docs/protocol.md "Error codes").
      const e = matrixErrorOf(m);
      return e ? { type: 'error', ...e } : null;
    }
    default:
      return null;
  }
}

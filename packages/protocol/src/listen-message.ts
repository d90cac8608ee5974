/**
 * The JSON text messages of the listen WebSocket, `{P}/ws/{S}/{ID}` (docs/protocol.md "Listen
 * over WebSocket"). Binary messages are whole blocks and need no type here. The relay sends
 * these; every listener reads them through parseListenMessage.
 */
import { isCount, parseJsonObject } from './json-object.ts';
import { matrixErrorOf } from './matrix-error.ts';
import { MEDIA_STATES, type MediaState } from './media-index.ts';

export type ListenMessage =
  /**
   * On join, on each state change, and every few seconds while live. `interrupted` (while
   * live): the upload went silent (MediaIndex.interrupted); absent from relays that predate it.
   */
  | {
      type: 'status';
      state: MediaState;
      listeners: number;
      block_count: number;
      interrupted?: boolean;
    }
  /** The relay moved a listener that fell behind to the live edge: `to_seq` is its next block. */
  | { type: 'skipped'; to_seq: number }
  /** Sent before a normal close (1000); `reason` `expired` for a pending id that expired. */
  | { type: 'end'; state: 'complete' | 'cancelled'; reason?: string }
  /** A Matrix error before the relay closes the socket. */
  | { type: 'error'; errcode: string; error: string };

/**
 * The message in `text`, or null when it is not one this version knows (not JSON, an unknown
 * `type`, a field of the wrong type). Listeners ignore what they do not know, so a relay may add
 * message types without breaking older players (docs/protocol.md).
 */
export function parseListenMessage(text: string): ListenMessage | null {
  const m = parseJsonObject(text);
  switch (m?.type) {
    case 'status':
      return MEDIA_STATES.includes(m.state as MediaState) &&
        isCount(m.listeners) &&
        isCount(m.block_count)
        ? {
            type: 'status',
            state: m.state as MediaState,
            listeners: m.listeners,
            block_count: m.block_count,
            ...(typeof m.interrupted === 'boolean' ? { interrupted: m.interrupted } : {}),
          }
        : null;
    case 'skipped':
      return isCount(m.to_seq) ? { type: 'skipped', to_seq: m.to_seq } : null;
    case 'end':
      if (m.state !== 'complete' && m.state !== 'cancelled') return null;
      return typeof m.reason === 'string'
        ? { type: 'end', state: m.state, reason: m.reason }
        : { type: 'end', state: m.state };
    case 'error': {
      const e = matrixErrorOf(m);
      return e ? { type: 'error', errcode: e.errcode, error: e.error } : null;
    }
    default:
      return null;
  }
}

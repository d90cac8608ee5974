/**
 * The relay's block index (docs/protocol.md "Block index") fetched with a bounded retry: a
 * relay that is briefly unreachable, overloaded (5xx, 504 M_NOT_YET_UPLOADED) or rate-limiting
 * (429) is asked again after a doubling delay, each failed attempt reported to the caller as a
 * non-fatal error; only the last one is fatal. An answer that will not change on retry — 404
 * M_NOT_FOUND, 401/403, 400 — is fatal at once (docs/player.md "Errors").
 */
import { PlayerError, isPlayerError } from './player-error.ts';
import { fetchIndex, type MediaLocation, type RelayIndex } from './relay-index.ts';

export interface IndexRetryOptions {
  /** Attempts in all, the first included. Default 5. */
  attempts?: number;
  /** Wait before the first retry, doubled before each next one. Default 150 ms (2.25 s in all for 5 attempts). */
  delayMs?: number;
  /** Called before each request (for the requests counter). */
  onRequest?: () => void;
  /** A transient failure that will be retried after `delayMs`; `error` is non-fatal. */
  onRetry?: (error: PlayerError, attempt: number, delayMs: number) => void;
}

export const DEFAULT_INDEX_ATTEMPTS = 5;
export const DEFAULT_INDEX_RETRY_DELAY_MS = 150;

/**
 * A failure worth asking again: any non-fatal one (no connection, a 5xx), or a 429 (the relay
 * said "later": fatal for a download, but an index request is small and cheap to repeat).
 */
export function isTransientIndexError(err: unknown): err is PlayerError {
  return isPlayerError(err) && (!err.fatal || err.details.status === 429);
}

export async function fetchIndexWithRetry(
  loc: MediaLocation,
  fetchFn: typeof fetch,
  o: IndexRetryOptions = {},
  range?: { from: number; count: number },
): Promise<RelayIndex> {
  const attempts = Math.max(1, o.attempts ?? DEFAULT_INDEX_ATTEMPTS);
  let delay = o.delayMs ?? DEFAULT_INDEX_RETRY_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      o.onRequest?.();
      return await fetchIndex(loc, fetchFn, undefined, range);
    } catch (err) {
      if (!isTransientIndexError(err)) throw err;
      if (attempt >= attempts) {
        // The last failure, now fatal: a 429 to the end stays LIMITED, a dropped line NETWORK.
        throw new PlayerError(err.code, `${err.message}; gave up after ${attempts} attempts`, {
          fatal: true,
          cause: err,
          ...err.details,
        });
      }
      o.onRetry?.(
        new PlayerError(
          err.code,
          `${err.message}; retry ${attempt}/${attempts - 1} in ${delay} ms`,
          { fatal: false, cause: err, ...err.details },
        ),
        attempt,
        delay,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }
}

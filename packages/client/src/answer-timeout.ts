/**
 * The answer timeout every client of the relay shares (MediaClient, the player's own fetches):
 * a request waits at most `ms` for the response's headers, never for its body (a download
 * streams for as long as the media). A relay node that accepts TCP and never answers (a hung
 * process, a black-holed proxy) then counts as down, so a caller naming several cluster nodes
 * moves on to the next (docs/operations.md "Cluster", "Failover"). Web APIs only (fetch,
 * AbortController): runs in browsers and Node alike.
 */

/** Thrown by `fetchWithAnswerTimeout` when the headers did not come within `ms`. */
export class AnswerTimeout extends Error {
  override readonly name = 'AnswerTimeout';
  constructor(
    readonly url: string,
    readonly ms: number,
    options?: { cause?: unknown },
  ) {
    super(`${originOf(url)} did not answer within ${ms} ms`, options);
  }
}

/**
 * `fetchImpl(url, init)` with its headers bounded by `ms`. The caller's `init.signal` still
 * aborts (forwarded by hand: AbortSignal.any is newer than some browsers this runs in) and
 * rejects with what fetch rejects with; only the timeout rejects with AnswerTimeout.
 */
export async function fetchWithAnswerTimeout(
  fetchImpl: typeof fetch,
  input: RequestInfo | URL,
  init: RequestInit,
  ms: number,
): Promise<Response> {
  const timer = new AbortController();
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    timer.abort();
  }, ms);
  const callerAbort = () => timer.abort(init.signal?.reason);
  if (init.signal) {
    if (init.signal.aborted) callerAbort();
    else init.signal.addEventListener('abort', callerAbort, { once: true });
  }
  try {
    // The caller's signal stays wired to `timer` after the headers: aborting it still cancels
    // the body; the timer itself is cleared, so the body is never timed.
    return await fetchImpl(input, { ...init, signal: timer.signal });
  } catch (err) {
    if (timedOut) throw new AnswerTimeout(urlOf(input), ms, { cause: err });
    throw err;
  } finally {
    clearTimeout(t);
  }
}

/** A fetch whose every request has its headers bounded by `ms` (fetchWithAnswerTimeout). */
export function withAnswerTimeout(fetchImpl: typeof fetch, ms: number): typeof fetch {
  return ((input: RequestInfo | URL, init: RequestInit = {}) =>
    fetchWithAnswerTimeout(fetchImpl, input, init, ms)) as typeof fetch;
}

function urlOf(input: RequestInfo | URL): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * Homeserver mode (docs/matrix.md "The relay as the homeserver's media repository"): an access
 * token is a Matrix access token, checked with `GET /_matrix/client/v3/account/whoami` on the
 * homeserver (Matrix client-server API "Current account information"). The answer is cached for a
 * short TTL (limits.whoamiCacheTtlMs) so a burst of downloads costs one whoami, keyed by the
 * token's sha256 only (a heap dump holds no token), with at most limits.whoamiCacheMaxEntries
 * entries (the oldest go first) so many tokens cannot grow memory without bound. Concurrent
 * checks of one token share one request.
 *
 * A homeserver that is down, slow past limits.homeserverTimeoutMs, or answers garbage gives 502
 * with a reason: never an open door, and never M_UNKNOWN_TOKEN (the client's token may be fine:
 * logging it out would be wrong). Only a success is cached: a logout on the homeserver takes
 * effect within the TTL. Whoami requests under way at once are bounded
 * (limits.maxWhoamiInFlight): a flood of made-up tokens, each a cache miss, is refused with 503
 * instead of being passed on to the homeserver or held in memory.
 */
import { createHash, hash } from 'node:crypto';
import { RelayError } from './relay-error.ts';
import type { RelayLimits } from './relay-config.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import { USER_ID_PATTERN } from './token-store.ts';

/**
 * The cache's key for a token: its SHA-256 (a heap dump holds no token; a weaker hash would let
 * a made-up token collide with a cached one). Computed on every download, so the one-shot
 * crypto.hash (Node ≥ 20.12), ~0.25 µs, not a Hash object and a hex digest, ~0.75 µs: in a
 * CPU profile of 64 KiB downloads the token check was ~2.6% of the process, two thirds of it
 * this hash (docs/matrix.md "Homeserver mode").
 */
const tokenKey: (token: string) => string =
  typeof hash === 'function'
    ? (token) => hash('sha256', token, 'base64')
    : (token) => createHash('sha256').update(token, 'utf8').digest('base64');

const WHOAMI_PATH = '/_matrix/client/v3/account/whoami';
/** A whoami answer is a few hundred bytes; more is not a whoami answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

interface CacheEntry {
  user: string;
  expiresAt: number;
}

export class HomeserverAuth {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly whoamiUrl: string;

  constructor(
    homeserver: string,
    private readonly limits: Pick<
      RelayLimits,
      'whoamiCacheTtlMs' | 'whoamiCacheMaxEntries' | 'homeserverTimeoutMs' | 'maxWhoamiInFlight'
    >,
    private readonly metrics: RelayMetrics,
  ) {
    this.whoamiUrl = new URL(WHOAMI_PATH, homeserver.replace(/\/+$/, '') + '/').toString();
  }

  /** Entries in the cache now (a /metrics gauge and what the bound is tested on). */
  get cacheSize(): number {
    return this.cache.size;
  }

  /**
   * The user of `token` if the cache holds it now, else undefined: a download's usual case, so it
   * is answered synchronously, one hash and one Map lookup with no promise (a keep-alive
   * listener's every request comes here; userOf() asks the homeserver on a miss).
   */
  cachedUser(token: string): string | undefined {
    return this.lookup(tokenKey(token));
  }

  private lookup(key: string): string | undefined {
    const hit = this.cache.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt <= Date.now()) {
      this.cache.delete(key);
      return undefined;
    }
    this.metrics.whoami.cached++;
    return hit.user;
  }

  /** The Matrix user id the homeserver says `token` belongs to. */
  async userOf(token: string): Promise<string> {
    const key = tokenKey(token);
    const cached = this.lookup(key);
    if (cached !== undefined) return cached;
    const pending = this.inFlight.get(key);
    if (pending) {
      this.metrics.whoami.cached++;
      return pending;
    }
    if (this.inFlight.size >= this.limits.maxWhoamiInFlight) {
      this.metrics.whoami.failed++;
      throw new RelayError(
        'M_LIMIT_EXCEEDED',
        `${this.inFlight.size} token checks already under way at the homeserver: try again`,
        { status: 503, fields: { 'org.matrix.msc4016.reason': 'HOMESERVER_BUSY' } },
      );
    }
    const check = this.whoami(token).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, check);
    const user = await check;
    this.remember(key, user);
    return user;
  }

  private remember(key: string, user: string): void {
    const { whoamiCacheTtlMs, whoamiCacheMaxEntries } = this.limits;
    if (whoamiCacheTtlMs <= 0 || whoamiCacheMaxEntries <= 0) return;
    // Map keeps insertion order: the first keys are the oldest entries.
    while (this.cache.size >= whoamiCacheMaxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(key, { user, expiresAt: Date.now() + whoamiCacheTtlMs });
  }

  private async whoami(token: string): Promise<string> {
    this.metrics.whoami.requests++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.whoamiUrl, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(this.limits.homeserverTimeoutMs),
        redirect: 'error',
      });
      text = await readBounded(res);
    } catch (err) {
      this.metrics.whoami.failed++;
      const why = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'unreachable';
      throw unavailable(`the homeserver is ${why}: cannot check the access token`);
    }
    if (res.status === 401 || res.status === 403) {
      // M_UNKNOWN_TOKEN (logged out, soft logout) or a locked/suspended account: either way
      // this token does not open the relay.
      throw new RelayError('M_UNKNOWN_TOKEN', 'the homeserver does not know this access token');
    }
    if (res.status !== 200) {
      this.metrics.whoami.failed++;
      throw unavailable(`the homeserver answered whoami with HTTP ${res.status}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const user = (body as { user_id?: unknown } | null)?.user_id;
    if (typeof user !== 'string' || !USER_ID_PATTERN.test(user)) {
      this.metrics.whoami.failed++;
      throw unavailable('the homeserver answered whoami without a valid user_id', 'BAD_ANSWER');
    }
    if ((body as { is_guest?: unknown }).is_guest === true)
      throw new RelayError('M_FORBIDDEN', 'guest accounts cannot use the relay');
    return user;
  }
}

function unavailable(message: string, kind: 'UNAVAILABLE' | 'BAD_ANSWER' = 'UNAVAILABLE') {
  return new RelayError('M_UNKNOWN', message, {
    status: 502,
    fields: { 'org.matrix.msc4016.reason': `HOMESERVER_${kind}` },
  });
}

/** The body as text, refusing more than MAX_ANSWER_BYTES (a hostile or broken upstream). */
async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    // Leaving the loop cancels the stream.
    if (total > MAX_ANSWER_BYTES) return '';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `mxcast token create|list|revoke --cluster nats://…`: the same operations as token-store.ts,
 * on a relay cluster's token bucket in NATS JetStream (storage/jetstream-token-bucket.ts) instead
 * of one relay's relay.db. Same token format, same ids (first 8 hex digits of the sha256), same
 * refusals as RelayErrors; every node reads the bucket on each request, so a revoked token is
 * refused cluster-wide from the next request on.
 */
import { randomBytes } from 'node:crypto';
import { JetStreamTokenBucket } from '../storage/jetstream-token-bucket.ts';
import { RelayError } from './relay-error.ts';
import { hashToken, USER_ID_PATTERN, type RevokeTarget, type TokenInfo } from './token-store.ts';

const TOKEN_ID_LENGTH = 8;

/** Parses `nats://HOST:PORT[,nats://HOST:PORT…]` (the --cluster flag) into a server list. */
export function parseClusterServers(value: string): string[] {
  const servers = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0)
    throw new RelayError('M_INVALID_PARAM', 'cluster: no server given (nats://HOST:PORT)');
  for (const s of servers)
    if (!/^(nats|tls):\/\/[^\s/,]+:\d{1,5}$/.test(s))
      throw new RelayError('M_INVALID_PARAM', `cluster: not a nats://HOST:PORT URL: '${s}'`);
  return servers;
}

export async function createClusterToken(servers: string[], userId: string): Promise<string> {
  if (!USER_ID_PATTERN.test(userId))
    throw new RelayError(
      'M_INVALID_PARAM',
      `not a Matrix user id: '${userId}' (expected @localpart:server)`,
    );
  const token = 'mxct_' + randomBytes(32).toString('base64url');
  await JetStreamTokenBucket.with(servers, (b) => b.insert(hashToken(token), userId, Date.now()));
  return token;
}

export async function listClusterTokens(servers: string[]): Promise<TokenInfo[]> {
  const rows = await JetStreamTokenBucket.with(servers, (b) => b.list());
  return rows.map((r) => ({
    id: r.token_hash.slice(0, TOKEN_ID_LENGTH),
    userId: r.user_id,
    createdAt: r.created_at,
  }));
}

/** Deletes tokens; returns how many went (an id naming two tokens is refused, as in token-store). */
export async function revokeClusterTokens(
  servers: string[],
  target: RevokeTarget,
): Promise<number> {
  return JetStreamTokenBucket.with(servers, async (b) => {
    if ('token' in target) return (await b.delete(hashToken(target.token))) ? 1 : 0;
    const rows = await b.list();
    let matches;
    if ('userId' in target) matches = rows.filter((r) => r.user_id === target.userId);
    else {
      const id = target.id.toLowerCase();
      if (!/^[0-9a-f]{4,64}$/.test(id))
        throw new RelayError('M_INVALID_PARAM', `not a token id: '${target.id}'`);
      matches = rows.filter((r) => r.token_hash.startsWith(id));
      if (matches.length > 1)
        throw new RelayError(
          'M_INVALID_PARAM',
          `token id '${target.id}' names ${matches.length} tokens: give more digits`,
        );
    }
    let n = 0;
    for (const r of matches) if (await b.delete(r.token_hash)) n++;
    return n;
  });
}

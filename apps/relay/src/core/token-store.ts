/**
 * Access tokens: random 256-bit strings handed out once by `mxcast token create`; only their
 * sha256 is stored, so a copy of relay.db does not let anyone upload. `token list` shows a short
 * id instead (the first 8 hex digits of the hash: enough to tell tokens apart, useless to log in),
 * and `token revoke` deletes rows; the relay reads the table on every request (no cache), so a
 * revoked token stops working at once even while the relay runs (WAL lets both processes in),
 * and the connections it opened are closed within a second (adapter/token-revoke-watch.ts).
 * Bad input is a RelayError like every relay failure (M_INVALID_PARAM, M_NOT_FOUND for a missing
 * database), so an HTTP route that ever issues tokens answers it as Matrix JSON unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RelayDatabase } from '../storage/relay-database.ts';
import { RelayError } from './relay-error.ts';

/** Hex digits of the hash shown as a token's id. */
const TOKEN_ID_LENGTH = 8;

export const USER_ID_PATTERN = /^@[a-z0-9._=\-/+]+:[A-Za-z0-9.:[\]-]+$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function issueToken(db: RelayDatabase, userId: string): string {
  if (!USER_ID_PATTERN.test(userId)) {
    throw new RelayError(
      'M_INVALID_PARAM',
      `not a Matrix user id: '${userId}' (expected @localpart:server)`,
    );
  }
  const token = 'mxct_' + randomBytes(32).toString('base64url');
  db.insertToken(hashToken(token), userId, Date.now());
  return token;
}

/** Creates a token for `userId` in the relay database under `dataDir` (the relay may be running: WAL allows it). */
export function createToken(dataDir: string, userId: string): string {
  return withDatabase(dataDir, (db) => issueToken(db, userId), true);
}

export interface TokenInfo {
  /** The first 8 hex digits of the token's sha256: names it without revealing it. */
  id: string;
  userId: string;
  createdAt: number;
}

/** The tokens in the relay database under `dataDir`, oldest first (never the tokens themselves). */
export function listTokens(dataDir: string): TokenInfo[] {
  return withDatabase(dataDir, (db) =>
    db.listTokens().map((r) => ({
      id: r.token_hash.slice(0, TOKEN_ID_LENGTH),
      userId: r.user_id,
      createdAt: r.created_at,
    })),
  );
}

/** What to revoke: one token (the secret, or its id from listTokens), or every token of a user. */
export type RevokeTarget = { token: string } | { id: string } | { userId: string };

/**
 * Deletes tokens; returns how many went. An id must name exactly one token (an id shared by two
 * is refused rather than guessed). The relay need not be stopped.
 */
export function revokeTokens(dataDir: string, target: RevokeTarget): number {
  return withDatabase(dataDir, (db) => {
    if ('token' in target) return db.deleteToken(hashToken(target.token));
    if ('userId' in target) return db.deleteUserTokens(target.userId);
    const id = target.id.toLowerCase();
    if (!/^[0-9a-f]{4,64}$/.test(id)) {
      throw new RelayError('M_INVALID_PARAM', `not a token id: '${target.id}'`);
    }
    const matches = db.listTokens().filter((r) => r.token_hash.startsWith(id));
    if (matches.length > 1) {
      throw new RelayError(
        'M_INVALID_PARAM',
        `token id '${target.id}' names ${matches.length} tokens: give more digits`,
      );
    }
    return matches[0] ? db.deleteToken(matches[0].token_hash) : 0;
  });
}

/** Opens the relay database (list and revoke refuse to create one where there is none). */
function withDatabase<T>(dataDir: string, use: (db: RelayDatabase) => T, create = false): T {
  if (!create && !existsSync(join(dataDir, 'relay.db')))
    throw new RelayError('M_NOT_FOUND', `no relay database in ${dataDir} (is --data right?)`);
  const db = new RelayDatabase(dataDir);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

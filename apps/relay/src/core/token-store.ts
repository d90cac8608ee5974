/**
 * Access tokens: random 256-bit strings handed out once by `mxcast token create`; only their
 * sha256 is stored, so a copy of relay.db does not let anyone upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RelayDatabase } from '../storage/relay-database.ts';

export const USER_ID_PATTERN = /^@[a-z0-9._=\-/+]+:[A-Za-z0-9.:[\]-]+$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function issueToken(db: RelayDatabase, userId: string): string {
  if (!USER_ID_PATTERN.test(userId)) {
    throw new Error(`not a Matrix user id: '${userId}' (expected @localpart:server)`);
  }
  const token = 'mxct_' + randomBytes(32).toString('base64url');
  db.insertToken(hashToken(token), userId, Date.now());
  return token;
}

/** Creates a token for `userId` in the relay database under `dataDir` (the relay may be running: WAL allows it). */
export function createToken(dataDir: string, userId: string): string {
  const db = new RelayDatabase(dataDir);
  try {
    return issueToken(db, userId);
  } finally {
    db.close();
  }
}

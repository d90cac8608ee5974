/**
 * Metadata in SQLite through better-sqlite3: media rows (owner, state, lengths, geometry,
 * sha256) and access tokens (sha256 hashes only). Why SQLite/better-sqlite3: it is embedded (one
 * file next to the media, nothing to run), its calls are synchronous — a state change and the
 * in-memory state move together inside one event-loop turn, with no await in between where
 * another request could see half of it — and fast (prepared statements, microseconds per row),
 * and WAL mode lets readers run beside the writer and makes a commit one sequential append.
 * The media bytes themselves never go through the database (append-only files, see media-file.ts).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { secureDataDir } from './data-dir-mode.ts';
import { unreadableDatabaseMessage } from './database-check.ts';

export type MediaState = 'pending' | 'live' | 'complete' | 'cancelled';

export interface MediaRow {
  media_id: string;
  owner: string;
  state: MediaState;
  created_at: number;
  unused_expires_at: number;
  first_byte_at: number | null;
  completed_at: number | null;
  byte_length: number;
  block_count: number;
  byte_order: 'be' | 'le' | null;
  geometry: string | null;
  sha256: string | null;
  upload_length: number | null;
  /** What is wrong with the media's file (docs/operations.md "Damage and repair"); null if intact. */
  damage: string | null;
  /** A finished media's block sizes as JSON runs (offset-list.ts), so a reload need not re-read it. */
  block_runs: string | null;
}

/** The row of a media just created: pending, no byte yet. */
export function pendingMediaRow(
  id: string,
  owner: string,
  now: number,
  expiresAt: number,
  geometry: string | null,
): MediaRow {
  return {
    media_id: id,
    owner,
    state: 'pending',
    created_at: now,
    unused_expires_at: expiresAt,
    first_byte_at: null,
    completed_at: null,
    byte_length: 0,
    block_count: 0,
    byte_order: null,
    geometry,
    sha256: null,
    upload_length: null,
    damage: null,
    block_runs: null,
  };
}

export interface TokenRow {
  token_hash: string;
  user_id: string;
  created_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
  media_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  unused_expires_at INTEGER NOT NULL,
  first_byte_at INTEGER,
  completed_at INTEGER,
  byte_length INTEGER NOT NULL DEFAULT 0,
  block_count INTEGER NOT NULL DEFAULT 0,
  byte_order TEXT,
  geometry TEXT,
  sha256 TEXT,
  upload_length INTEGER
);
CREATE INDEX IF NOT EXISTS media_state ON media(state);
-- Per-user quotas (core/user-quotas.ts) count one owner's rows without a table scan.
CREATE INDEX IF NOT EXISTS media_owner ON media(owner, state, unused_expires_at);
`;

export class RelayDatabase {
  readonly db: Database.Database;
  private readonly stmts;
  /** Prepared UPDATEs by column set (a handful: the store updates a few fixed sets). */
  private readonly updates = new Map<string, Database.Statement>();

  constructor(dataDir: string) {
    secureDataDir(dataDir);
    this.db = new Database(join(dataDir, 'relay.db'));
    try {
      this.db.pragma('journal_mode = WAL');
    } catch (err) {
      // Not a database at all (overwritten, a half-copied backup): say how to get out of it.
      this.db.close();
      throw new Error(unreadableDatabaseMessage(dataDir, (err as Error).message));
    }
    // WAL + NORMAL: a commit is durable at the next checkpoint/fsync; the media files carry their
    // own truth (they are re-scanned on start), so the database only needs to be consistent.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    // Columns added after the first release: ALTER only a database that lacks them.
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(media)').all();
    for (const [name, type] of [
      ['damage', 'TEXT'],
      ['block_runs', 'TEXT'],
    ] as const) {
      if (!columns.some((c) => c.name === name))
        this.db.exec(`ALTER TABLE media ADD COLUMN ${name} ${type}`);
    }
    this.stmts = {
      insertToken: this.db.prepare(
        'INSERT INTO tokens (token_hash, user_id, created_at) VALUES (?, ?, ?)',
      ),
      tokenUser: this.db.prepare<[string], { user_id: string }>(
        'SELECT user_id FROM tokens WHERE token_hash = ?',
      ),
      listTokens: this.db.prepare<[], TokenRow>(
        'SELECT token_hash, user_id, created_at FROM tokens ORDER BY created_at, user_id',
      ),
      deleteToken: this.db.prepare<[string]>('DELETE FROM tokens WHERE token_hash = ?'),
      deleteUserTokens: this.db.prepare<[string]>('DELETE FROM tokens WHERE user_id = ?'),
      insertMedia: this.db.prepare(
        'INSERT INTO media (media_id, owner, state, created_at, unused_expires_at, geometry) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      insertMediaRow: this.db.prepare<[MediaRow]>(
        `INSERT INTO media (media_id, owner, state, created_at, unused_expires_at, first_byte_at,
           completed_at, byte_length, block_count, byte_order, geometry, sha256, upload_length,
           damage, block_runs)
         VALUES (@media_id, @owner, @state, @created_at, @unused_expires_at, @first_byte_at,
           @completed_at, @byte_length, @block_count, @byte_order, @geometry, @sha256,
           @upload_length, @damage, @block_runs)`,
      ),
      getMedia: this.db.prepare<[string], MediaRow>('SELECT * FROM media WHERE media_id = ?'),
      unfinished: this.db.prepare<[], MediaRow>(
        "SELECT * FROM media WHERE state IN ('live', 'pending')",
      ),
      expired: this.db.prepare<[number], { media_id: string }>(
        "SELECT media_id FROM media WHERE state = 'pending' AND unused_expires_at < ?",
      ),
      deleteMedia: this.db.prepare('DELETE FROM media WHERE media_id = ?'),
      live: this.db.prepare<[], MediaRow>("SELECT * FROM media WHERE state = 'live'"),
      ownerCounts: this.db.prepare<
        { owner: string; now: number },
        { pending: number | null; live: number | null; stored: number | null }
      >(
        `SELECT SUM(state = 'pending' AND unused_expires_at >= @now) AS pending,
                SUM(state = 'live') AS live, SUM(state != 'pending') AS stored
         FROM media WHERE owner = @owner`,
      ),
      ownerBytes: this.db.prepare<[string], { bytes: number | null }>(
        'SELECT SUM(byte_length) AS bytes FROM media WHERE owner = ?',
      ),
      finished: this.db.prepare<[], { media_id: string; byte_length: number }>(
        "SELECT media_id, byte_length FROM media WHERE state IN ('complete', 'cancelled') AND damage IS NULL",
      ),
      mediaCount: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM media'),
      damaged: this.db.prepare<[], MediaRow>('SELECT * FROM media WHERE damage IS NOT NULL'),
    };
  }

  insertToken(tokenHash: string, userId: string, now: number): void {
    this.stmts.insertToken.run(tokenHash, userId, now);
  }

  tokenUser(tokenHash: string): string | undefined {
    return this.stmts.tokenUser.get(tokenHash)?.user_id;
  }

  /** Every token's hash, user and creation time (the hashes never leave token-store.ts). */
  listTokens(): TokenRow[] {
    return this.stmts.listTokens.all();
  }

  /** Deletes one token by its hash; returns how many rows went (0 or 1). */
  deleteToken(tokenHash: string): number {
    return this.stmts.deleteToken.run(tokenHash).changes;
  }

  /** Deletes every token of a user; returns how many went. */
  deleteUserTokens(userId: string): number {
    return this.stmts.deleteUserTokens.run(userId).changes;
  }

  insertMedia(
    id: string,
    owner: string,
    now: number,
    expiresAt: number,
    geometry: string | null,
  ): void {
    this.stmts.insertMedia.run(id, owner, 'pending', now, expiresAt, geometry);
  }

  /**
   * Inserts a whole media row in one statement. Throws better-sqlite3's SqliteError (code
   * SQLITE_CONSTRAINT_PRIMARYKEY) when the id exists.
   */
  insertMediaRow(row: MediaRow): void {
    this.stmts.insertMediaRow.run(row);
  }

  getMedia(id: string): MediaRow | undefined {
    return this.stmts.getMedia.get(id);
  }

  unfinishedMedia(): MediaRow[] {
    return this.stmts.unfinished.all();
  }

  /** Finished media not known to be damaged: what the start-up size check looks at. */
  finishedMedia(): { media_id: string; byte_length: number }[] {
    return this.stmts.finished.all();
  }

  mediaCount(): number {
    return this.stmts.mediaCount.get()?.n ?? 0;
  }

  /** Media marked damaged (what `mxcast relay --repair` looks at again). */
  damagedMedia(): MediaRow[] {
    return this.stmts.damaged.all();
  }

  /** Media in state live: the only ones start-up loads (pending ids cost nothing until used). */
  liveMedia(): MediaRow[] {
    return this.stmts.live.all();
  }

  /** One owner's unexpired pending, live and stored (live, complete, cancelled) media. */
  ownerCounts(owner: string, now: number): { pending: number; live: number; stored: number } {
    const r = this.stmts.ownerCounts.get({ owner, now });
    return { pending: r?.pending ?? 0, live: r?.live ?? 0, stored: r?.stored ?? 0 };
  }

  /** Bytes of one owner's media as last written to their rows. */
  ownerBytes(owner: string): number {
    return this.stmts.ownerBytes.get(owner)?.bytes ?? 0;
  }

  expiredPending(now: number): string[] {
    return this.stmts.expired.all(now).map((r) => r.media_id);
  }

  /** Updates the named columns of one media row. */
  updateMedia(id: string, fields: Partial<Omit<MediaRow, 'media_id'>>): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    const sql = `UPDATE media SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE media_id = @media_id`;
    let stmt = this.updates.get(sql);
    if (!stmt) this.updates.set(sql, (stmt = this.db.prepare(sql)));
    stmt.run({ ...fields, media_id: id });
  }

  /**
   * updateMedia only if the row's state is still `expected` (one statement: the compare and the
   * set cannot be split); false when no row matched (gone, or in another state).
   */
  updateMediaIf(
    id: string,
    expected: MediaState,
    fields: Partial<Omit<MediaRow, 'media_id'>>,
  ): boolean {
    const keys = Object.keys(fields);
    const set = keys.length > 0 ? keys.map((k) => `${k} = @${k}`).join(', ') : 'state = state';
    const sql = `UPDATE media SET ${set} WHERE media_id = @media_id AND state = @expected_state`;
    let stmt = this.updates.get(sql);
    if (!stmt) this.updates.set(sql, (stmt = this.db.prepare(sql)));
    return stmt.run({ ...fields, media_id: id, expected_state: expected }).changes > 0;
  }

  deleteMedia(id: string): void {
    this.stmts.deleteMedia.run(id);
  }

  close(): void {
    this.db.close();
  }
}

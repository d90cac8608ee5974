/**
 * The database and the media files must describe the same media. When `relay.db` is lost —
 * truncated to 0 bytes, replaced by an empty file, overwritten — SQLite quietly opens an empty
 * database, and a relay started on it would answer every token 401 and every media 404 while the
 * media files sit orphaned. The relay refuses to start instead, with one line that names the fix:
 * `mxcast relay --repair` (docs/operations.md "Damage and repair").
 */
import { readdirSync } from 'node:fs';

export const REPAIR_HINT =
  'run `mxcast relay --repair --data DIR` to rebuild the media rows from the files (docs/operations.md "Damage and repair")';

export function unreadableDatabaseMessage(dataDir: string, why: string): string {
  return `${dataDir}/relay.db is unreadable (${why}): ${REPAIR_HINT}`;
}

/** Media ids of the `<id>.mxc` files in `mediaDir` (names that are not media ids are ignored). */
export function mediaFileIds(mediaDir: string, isMediaId: (id: string) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(mediaDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.mxc'))
    .map((n) => n.slice(0, -'.mxc'.length))
    .filter(isMediaId);
}

/**
 * Throws when the database holds no media at all while media files exist: the database was lost,
 * not emptied (deleting a media removes its file with its row).
 */
export function checkDatabaseNotLost(
  dataDir: string,
  mediaRows: number,
  fileIds: readonly string[],
): void {
  if (mediaRows === 0 && fileIds.length > 0) {
    throw new Error(
      `${dataDir}/relay.db has no media rows but media/ holds ${fileIds.length} media file(s) ` +
        `(was relay.db lost or truncated?): ${REPAIR_HINT}; refusing to start`,
    );
  }
}

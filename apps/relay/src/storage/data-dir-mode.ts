/**
 * Least privilege on disk: the data dir holds the token hashes and every broadcast's ciphertext,
 * which nobody but the relay's own user has a reason to read (docs/operations.md "Data layout").
 * The directories are 0700 and the files 0600: new ones are created so, and on start an existing
 * data dir (made by an older relay, restored from a backup, unpacked with a loose umask) is
 * tightened, so a relay upgraded in place does not keep world-readable files.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** The files at the top of a data dir (SQLite's WAL and shared-memory files beside the db). */
const TOP_FILES = ['relay.db', 'relay.db-wal', 'relay.db-shm', 'relay.db-journal', 'relay.lock'];

/**
 * Creates `dataDir` and `dataDir/media` if missing and sets the modes of both and of every file
 * the relay keeps there. `relay.db` is created here, 0600, before SQLite opens it: SQLite gives its
 * -wal and -shm files the database file's mode (its unix VFS copies it), so they follow.
 */
export function secureDataDir(dataDir: string): void {
  const media = join(dataDir, 'media');
  let loosened = false;
  for (const dir of [dataDir, media]) {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    loosened = setMode(dir, DIR_MODE) || loosened;
  }
  closeSync(openSync(join(dataDir, 'relay.db'), 'a', FILE_MODE));
  for (const name of TOP_FILES) setMode(join(dataDir, name), FILE_MODE);
  // Media files are created 0600 and sit in a 0700 directory; only a directory that was looser
  // (an older relay's data dir) can hold looser files, so the start of a relay with a hundred
  // thousand media does not stat them all every time.
  if (loosened) for (const name of readdirSync(media)) setMode(join(media, name), FILE_MODE);
}

/**
 * chmod unless already so; true when it had to. A missing file is fine, a symlink is left alone
 * (never followed).
 */
function setMode(path: string, mode: number): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (st.isSymbolicLink() || (st.mode & 0o777) === mode) return false;
  try {
    chmodSync(path, mode);
  } catch (err) {
    throw new Error(`cannot set mode ${mode.toString(8)} on ${path}: ${(err as Error).message}`);
  }
  return true;
}

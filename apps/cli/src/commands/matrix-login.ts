/**
 * The Matrix options `mxcast capture` and `mxcast listen` share with --homeserver (docs/matrix.md
 * "From nothing to a live broadcast in a room"): where the secret comes from, where the device is
 * kept, and the session itself. @mxcast/matrix (matrix-js-sdk and its WebAssembly crypto) is
 * imported only here and only when --homeserver is given, so `mxcast --help` and the commands
 * without Matrix never load it.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type * as MatrixModule from '@mxcast/matrix';
import type { MatrixAuth, MatrixSession } from '@mxcast/matrix';
import { CliError } from '../command-kit.ts';

export const MATRIX_OPTIONS = {
  homeserver: { type: 'string' },
  room: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  'token-file': { type: 'string' },
  'state-dir': { type: 'string' },
} as const;

export const MATRIX_HELP = `Matrix (docs/matrix.md):
  --homeserver URL       the homeserver's base URL; turns on the Matrix mode
  --room ROOM            a room id (!id:server) or alias (#name:server) the user has joined
  --user @USER:SERVER    log in with a password, read from --password-file FILE or the
                         MXCAST_MATRIX_PASSWORD environment variable
  --token-file FILE      or use an existing access token from FILE (or MXCAST_MATRIX_TOKEN)
  --state-dir DIR        keep the device (token, crypto keys) here, mode 0700, and reuse it on
                         the next run without a login (default $XDG_STATE_HOME/mxcast/matrix-CMD,
                         else ~/.local/state/mxcast/matrix-CMD). Secrets never go on the
                         command line.
`;

export interface MatrixArgs {
  homeserver?: string | undefined;
  room?: string | undefined;
  user?: string | undefined;
  'password-file'?: string | undefined;
  'token-file'?: string | undefined;
  'state-dir'?: string | undefined;
}

async function secretFrom(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new CliError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (!text) throw new CliError(`${what} ${file} is empty`);
  return text;
}

/** The auth from files or the environment; undefined means "the saved device must do". */
async function authOf(args: MatrixArgs): Promise<MatrixAuth | undefined> {
  if (args['token-file'])
    return { accessToken: await secretFrom(args['token-file'], '--token-file') };
  if (args.user) {
    const password = args['password-file']
      ? await secretFrom(args['password-file'], '--password-file')
      : process.env.MXCAST_MATRIX_PASSWORD;
    if (!password)
      throw new CliError('--user needs --password-file FILE (or MXCAST_MATRIX_PASSWORD)');
    return { user: args.user, password };
  }
  if (args['password-file']) throw new CliError('--password-file goes with --user');
  const token = process.env.MXCAST_MATRIX_TOKEN;
  return token ? { accessToken: token } : undefined;
}

function defaultStateDir(command: string): string {
  const base = process.env.XDG_STATE_HOME || path.join(homedir(), '.local/state');
  return path.join(base, 'mxcast', `matrix-${command}`);
}

/** No secret given: the device kept in the state dir (packages/matrix's session.json) must do. */
async function savedAuth(stateDir: string): Promise<MatrixAuth> {
  try {
    const saved = JSON.parse(await readFile(path.join(stateDir, 'session.json'), 'utf8')) as {
      accessToken?: unknown;
    };
    if (typeof saved.accessToken === 'string') return { accessToken: saved.accessToken };
  } catch {
    // no saved device: the error below says what to give
  }
  throw new CliError(
    `no saved Matrix device in ${stateDir}: give --user with --password-file (or MXCAST_MATRIX_PASSWORD), or --token-file (or MXCAST_MATRIX_TOKEN)`,
  );
}

export interface OpenedRoom {
  matrix: typeof MatrixModule;
  session: MatrixSession;
  roomId: string;
  homeserver: string;
  /** Where the device is kept (--state-dir or the default). */
  stateDir: string;
}

/** Checks the Matrix options, loads @mxcast/matrix, logs in (or reuses the device). */
export async function openRoom(args: MatrixArgs, command: string): Promise<OpenedRoom> {
  const homeserver = args.homeserver?.replace(/\/+$/, '');
  if (!homeserver || !/^https?:\/\/[^/]/.test(homeserver))
    throw new CliError(`--homeserver must be an http(s) URL, got '${args.homeserver ?? ''}'`);
  if (!args.room) throw new CliError('--homeserver needs --room ROOM_ID_OR_ALIAS');
  const stateDir = args['state-dir'] ?? defaultStateDir(command);
  const auth = (await authOf(args)) ?? (await savedAuth(stateDir));
  const matrix = await import('@mxcast/matrix');
  let session: MatrixSession;
  try {
    session = await matrix.openMatrixSession({
      homeserver,
      auth,
      stateDir,
      deviceName: `mxcast ${command}`,
    });
  } catch (err) {
    throw new CliError(`matrix login to ${homeserver}: ${(err as Error).message}`, 5);
  }
  try {
    const roomId = await matrix.resolveRoomId(session, args.room);
    return { matrix, session, roomId, homeserver, stateDir };
  } catch (err) {
    await session.stop();
    throw new CliError(`--room ${args.room}: ${(err as Error).message}`);
  }
}

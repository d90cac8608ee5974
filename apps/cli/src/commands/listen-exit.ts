/**
 * `mxcast listen`'s exit statuses, and the one table from a player error code to its status
 * (docs/errors.md). The table is keyed by every PlayerErrorCode, so a new player code does not
 * compile until it has an exit status here.
 */
import type { PlayerErrorCode } from '@mxcast/player';
import { CliError, EXIT } from '../command-kit.ts';

/** Exit statuses, documented in --help and docs/errors.md. */
export const LISTEN_EXIT = {
  finished: EXIT.ok,
  error: EXIT.error,
  badArguments: EXIT.badArguments,
  endedWithoutFinishing: 3,
  authFailure: 4,
  notFoundOrRefused: 5,
  network: 6,
  outputClosed: 7,
  /** The key source says this listener lost access (docs/format.md "Key epochs"). */
  noAccess: 8,
} as const;

const BY_CODE: Readonly<Record<PlayerErrorCode, number>> = {
  WRONG_KEY: LISTEN_EXIT.authFailure,
  TAMPERED: LISTEN_EXIT.authFailure,
  // Not a corrupt stream: the listener was removed, so not the same status as TAMPERED.
  NO_ACCESS: LISTEN_EXIT.noAccess,
  NOT_FOUND: LISTEN_EXIT.notFoundOrRefused,
  REFUSED: LISTEN_EXIT.notFoundOrRefused,
  // LIMITED and RELAY_ERROR were part of REFUSED before the codes were split: same status.
  LIMITED: LISTEN_EXIT.notFoundOrRefused,
  RELAY_ERROR: LISTEN_EXIT.notFoundOrRefused,
  NETWORK: LISTEN_EXIT.network,
  OUTPUT: LISTEN_EXIT.outputClosed,
  BAD_REQUEST: LISTEN_EXIT.badArguments,
  BAD_STREAM: LISTEN_EXIT.error,
};

/** The exit status of a player error code; 1 for anything that is not one. */
export function listenExitCode(code: string | undefined): number {
  return BY_CODE[code as PlayerErrorCode] ?? LISTEN_EXIT.error;
}

/**
 * `mxcast listen --homeserver --room`: why it can end before the player starts, with the status
 * and the message it prints (docs/errors.md "Before playing, in a room"). The CLI raises these
 * through roomExit(); the test holds docs/errors.md to this table.
 */
export const ROOM_EXIT = {
  /** Options that do not go together, no secret and no saved device, --room missing. */
  badOptions: { status: LISTEN_EXIT.badArguments, message: '<what is wrong with the options>' },
  /** Wrong password, homeserver down or answering garbage (matrix-login.ts). */
  loginFailed: {
    status: LISTEN_EXIT.notFoundOrRefused,
    message: 'matrix login to <homeserver>: <reason>',
  },
  /** An alias that does not resolve, or text that is neither a room id nor an alias. */
  badRoom: { status: LISTEN_EXIT.badArguments, message: '--room <room>: <reason>' },
  notMember: {
    status: LISTEN_EXIT.notFoundOrRefused,
    message: 'not a member of <room>: join it first',
  },
  noBroadcast: { status: LISTEN_EXIT.notFoundOrRefused, message: 'no broadcast in <room>' },
  noSuchBroadcast: {
    status: LISTEN_EXIT.notFoundOrRefused,
    message: 'no broadcast <id> in <room>',
  },
  /** No Megolm key reached this device within 30 s (joined after it, or not shared with it). */
  noKey: { status: LISTEN_EXIT.authFailure, message: 'no key for broadcast <id>: <reason>' },
  noMxc: { status: LISTEN_EXIT.authFailure, message: 'the announcement has no mxc URL' },
} as const;

export type RoomExit = keyof typeof ROOM_EXIT;

/** The CliError for `why`, its message filled in from `fill` (placeholders as `<name>`). */
export function roomExit(why: RoomExit, fill: Record<string, string> = {}): CliError {
  const { status, message } = ROOM_EXIT[why];
  return new CliError(
    message.replace(/<([a-z]+)>/g, (all, name: string) => fill[name] ?? all),
    status,
  );
}

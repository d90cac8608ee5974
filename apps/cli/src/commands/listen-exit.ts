/**
 * `mxcast listen`'s exit statuses, and the one table from a player error code to its status
 * (docs/errors.md). The table is keyed by every PlayerErrorCode, so a new player code does not
 * compile until it has an exit status here.
 */
import type { PlayerErrorCode } from '@mxcast/player';
import { EXIT } from '../command-kit.ts';

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

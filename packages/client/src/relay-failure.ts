/**
 * What a relay's answer means to the programs that talk to it: the first step of the mapping in
 * docs/errors.md, shared so that the player and the capture (and through them the CLI and the
 * web page) give one answer the same name. A Matrix errcode decides when it is one the relay
 * documents (docs/protocol.md "Error codes"); otherwise the HTTP status does (a proxy's page,
 * an errcode from a newer relay).
 */
import type { ClientErrorCode } from './client-error.ts';

export const RELAY_FAILURES = {
  /** No answer or a transient one: refused, reset, dropped, 502/503/504, M_NOT_YET_UPLOADED. */
  NETWORK: 'the relay could not be reached, or is restarting',
  /** 404 M_NOT_FOUND, or 416 for a start past the media's end. */
  NOT_FOUND: 'the relay has no such media',
  /** 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN, 403 M_FORBIDDEN: this caller is not allowed. */
  REFUSED: 'the relay refused the access token or the operation',
  /** 413 M_TOO_LARGE, 429 M_LIMIT_EXCEEDED: a limit of the relay was reached. */
  LIMITED: 'the relay is full or a limit was reached',
  /** Any other answer: a 4xx such as M_BAD_BLOCK or M_CONFLICT, a 500, a body not as documented. */
  RELAY_ERROR: 'the relay answered with an error',
} as const;
export type RelayFailure = keyof typeof RELAY_FAILURES;

const BY_ERRCODE: Partial<Record<ClientErrorCode, RelayFailure>> = {
  NETWORK: 'NETWORK',
  M_NOT_YET_UPLOADED: 'NETWORK',
  M_NOT_FOUND: 'NOT_FOUND',
  M_MISSING_TOKEN: 'REFUSED',
  M_UNKNOWN_TOKEN: 'REFUSED',
  M_FORBIDDEN: 'REFUSED',
  M_TOO_LARGE: 'LIMITED',
  M_LIMIT_EXCEEDED: 'LIMITED',
  M_BAD_BLOCK: 'RELAY_ERROR',
  M_CONFLICT: 'RELAY_ERROR',
  M_CANNOT_OVERWRITE_MEDIA: 'RELAY_ERROR',
  M_BAD_JSON: 'RELAY_ERROR',
  M_INVALID_PARAM: 'RELAY_ERROR',
  M_UNRECOGNIZED: 'RELAY_ERROR',
  BAD_RESPONSE: 'RELAY_ERROR',
};

const BY_STATUS: Record<number, RelayFailure> = {
  0: 'NETWORK',
  401: 'REFUSED',
  403: 'REFUSED',
  404: 'NOT_FOUND',
  413: 'LIMITED',
  416: 'NOT_FOUND',
  429: 'LIMITED',
  502: 'NETWORK',
  503: 'NETWORK',
  504: 'NETWORK',
};

/**
 * The failure a relay answer stands for. `status` is the HTTP status (0: no answer); `code` the
 * Matrix errcode or the client's own code, when there is one (M_UNKNOWN decides nothing).
 */
export function relayFailureOf(status: number, code?: string): RelayFailure {
  return BY_ERRCODE[code as ClientErrorCode] ?? BY_STATUS[status] ?? 'RELAY_ERROR';
}

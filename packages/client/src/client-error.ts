/**
 * The one error class of @mxcast/client. `code` is the relay's Matrix errcode when the relay
 * answered with one (docs/protocol.md "Error codes"), or one of the client's own codes when it
 * could not get a Matrix answer at all. How each becomes a player, capture or CLI code is the
 * table in docs/errors.md (relay-failure.ts holds the first step of it).
 */
import { parseMatrixError } from '@mxcast/protocol';

/** Matrix errcodes the relay sends (docs/protocol.md "Error codes"). */
export const RELAY_ERRCODES = [
  'M_MISSING_TOKEN',
  'M_UNKNOWN_TOKEN',
  'M_FORBIDDEN',
  'M_NOT_FOUND',
  'M_NOT_YET_UPLOADED',
  'M_CANNOT_OVERWRITE_MEDIA',
  'M_CONFLICT',
  'M_BAD_BLOCK',
  'M_TOO_LARGE',
  'M_LIMIT_EXCEEDED',
  'M_BAD_JSON',
  'M_INVALID_PARAM',
  'M_UNRECOGNIZED',
  'M_UNKNOWN',
] as const;
export type RelayErrcode = (typeof RELAY_ERRCODES)[number];

/**
 * The client's own codes, for failures with no Matrix answer. They carry no `M_` prefix: the
 * Matrix spec reserves that namespace for its own errcodes. `NETWORK` is the one name every
 * package uses for a network failure (docs/errors.md).
 */
export const CLIENT_OWN_CODES = {
  /** The connection failed or dropped (refused, reset, DNS, aborted by the peer). */
  NETWORK: 'the connection failed or dropped',
  /** The caller aborted the request through its AbortSignal. */
  ABORTED: 'the caller aborted the request',
  /** The relay answered with something that is not the documented JSON. */
  BAD_RESPONSE: 'the relay answered with something that is not the documented JSON',
  /** A malformed mxc URI, listen link or argument given to the client. */
  BAD_ARGUMENT: 'a malformed mxc URI, listen link or argument',
} as const;
export type ClientOwnCode = keyof typeof CLIENT_OWN_CODES;

export type ClientErrorCode = RelayErrcode | ClientOwnCode;

export class ClientError extends Error {
  constructor(
    /** A code above, or an errcode of a newer relay this client does not know yet. */
    readonly code: ClientErrorCode | (string & {}),
    message: string,
    /** The HTTP status, or 0 when no response arrived. */
    readonly status = 0,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClientError';
  }

  /** True for errors that a retry after reconnecting may cure (connection lost, relay restarting). */
  get retryable(): boolean {
    return this.code === 'NETWORK' || this.status === 502 || this.status === 503;
  }
}

/**
 * A non-2xx answer's body: the Matrix error in it (`{errcode, error}`), or null when it is none
 * (a proxy's HTML page, say), with the text read. A body cut off reads as empty: the status alone
 * still says what happened. One reader for the client and the player.
 */
export async function readErrorBody(
  res: Response,
): Promise<{ matrix: ReturnType<typeof parseMatrixError>; text: string }> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // cut off: see above
  }
  return { matrix: parseMatrixError(text), text };
}

/** Turns a non-2xx response into a ClientError carrying the relay's errcode and message. */
export async function errorFromResponse(what: string, res: Response): Promise<ClientError> {
  const { matrix: m, text } = await readErrorBody(res);
  // Not a Matrix error: keep the status and the start of the text.
  const errcode = m?.errcode ?? 'M_UNKNOWN';
  const error = m ? m.error : text.slice(0, 200);
  return new ClientError(errcode, `${what}: ${res.status} ${errcode}: ${error}`, res.status);
}

/** Wraps a fetch rejection (no response) as NETWORK, or ABORTED when the caller aborted. */
export function networkError(what: string, url: string, err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'AbortError') {
    return new ClientError('ABORTED', `${what}: aborted`, 0, { cause: err });
  }
  const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return new ClientError('NETWORK', `${what}: cannot reach ${url}: ${detail}`, 0, {
    cause: err,
  });
}

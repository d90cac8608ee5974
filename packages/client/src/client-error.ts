/**
 * The one error class of @mxcast/client. `code` is the relay's Matrix errcode when the relay
 * answered with one (docs/protocol.md "Error codes"), or one of the client's own codes when it
 * could not get a Matrix answer at all.
 */
import { parseMatrixError } from '@mxcast/protocol';

export type ClientErrorCode =
  // Matrix errcodes the relay sends (docs/protocol.md).
  | 'M_MISSING_TOKEN'
  | 'M_UNKNOWN_TOKEN'
  | 'M_FORBIDDEN'
  | 'M_NOT_FOUND'
  | 'M_NOT_YET_UPLOADED'
  | 'M_CANNOT_OVERWRITE_MEDIA'
  | 'M_CONFLICT'
  | 'M_BAD_BLOCK'
  | 'M_TOO_LARGE'
  | 'M_LIMIT_EXCEEDED'
  | 'M_BAD_JSON'
  | 'M_INVALID_PARAM'
  | 'M_UNRECOGNIZED'
  | 'M_UNKNOWN'
  // The client's own codes.
  /** The connection failed or dropped (refused, reset, DNS, aborted by the peer). */
  | 'M_NETWORK'
  /** The caller aborted the request through its AbortSignal. */
  | 'M_ABORTED'
  /** The relay answered with something that is not the documented JSON. */
  | 'M_BAD_RESPONSE'
  /** A malformed mxc URI, listen link or argument given to the client. */
  | 'M_BAD_ARGUMENT';

export class ClientError extends Error {
  constructor(
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
    return this.code === 'M_NETWORK' || this.status === 502 || this.status === 503;
  }
}

/** Turns a non-2xx response into a ClientError carrying the relay's errcode and message. */
export async function errorFromResponse(what: string, res: Response): Promise<ClientError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The body may be cut off; the status alone still says what happened.
  }
  // Not a Matrix error (a proxy's HTML page, say): keep the status and the start of the text.
  const m = parseMatrixError(text);
  const errcode = m?.errcode ?? 'M_UNKNOWN';
  const error = m ? m.error : text.slice(0, 200);
  return new ClientError(errcode, `${what}: ${res.status} ${errcode}: ${error}`, res.status);
}

/** Wraps a fetch rejection (no response) as M_NETWORK, or M_ABORTED when the caller aborted. */
export function networkError(what: string, url: string, err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'AbortError') {
    return new ClientError('M_ABORTED', `${what}: aborted`, 0, { cause: err });
  }
  const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return new ClientError('M_NETWORK', `${what}: cannot reach ${url}: ${detail}`, 0, {
    cause: err,
  });
}

/**
 * The relay's one error class. Every failure the relay reports is a RelayError carrying a
 * `code` from RelayErrorCode; `matrixErrorBody`/`errorStatus` map it to the Matrix error JSON
 * (Matrix client-server API §"Standard error response") and HTTP status in one place, so every
 * route — HTTP or WebSocket — answers the same way. The table is docs/protocol.md "Error codes".
 */
export type RelayErrorCode =
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
  | 'M_RANGE_NOT_SATISFIABLE'
  | 'M_UNKNOWN';

const STATUS: Record<RelayErrorCode, number> = {
  M_MISSING_TOKEN: 401,
  M_UNKNOWN_TOKEN: 401,
  M_FORBIDDEN: 403,
  M_NOT_FOUND: 404,
  M_NOT_YET_UPLOADED: 504,
  M_CANNOT_OVERWRITE_MEDIA: 409,
  M_CONFLICT: 409,
  M_BAD_BLOCK: 400,
  M_TOO_LARGE: 413,
  M_LIMIT_EXCEEDED: 429,
  M_BAD_JSON: 400,
  M_INVALID_PARAM: 400,
  M_UNRECOGNIZED: 404,
  M_RANGE_NOT_SATISFIABLE: 416,
  M_UNKNOWN: 500,
};

export interface RelayErrorExtra {
  /** Overrides the default status of the code (e.g. 405 for M_UNRECOGNIZED on a known path). */
  status?: number;
  /** Extra members of the JSON body (e.g. `org.matrix.msc4016.reason`). */
  fields?: Record<string, unknown>;
  /** Extra response headers (e.g. `Content-Range: bytes *\/N` on a 416). */
  headers?: Record<string, string>;
}

export class RelayError extends Error {
  readonly status: number;
  readonly fields: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: RelayErrorCode,
    message: string,
    extra: RelayErrorExtra = {},
  ) {
    super(message);
    this.name = 'RelayError';
    this.status = extra.status ?? STATUS[code];
    this.fields = extra.fields ?? {};
    this.headers = extra.headers ?? {};
  }

  /** The Matrix error JSON: `{"errcode": …, "error": …, …fields}`. */
  toJSON(): Record<string, unknown> {
    return { errcode: this.code, error: this.message, ...this.fields };
  }
}

/** Any thrown value as a RelayError (unknown errors become M_UNKNOWN without leaking internals). */
export function toRelayError(err: unknown): RelayError {
  if (err instanceof RelayError) return err;
  return new RelayError('M_UNKNOWN', 'internal error');
}

/** A RelayError's response as plain parts: for a web Response, or written raw to a socket. */
export interface ErrorParts {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function errorParts(err: RelayError, headers: Record<string, string> = {}): ErrorParts {
  return {
    status: err.status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...err.headers,
      ...headers,
    },
    body: JSON.stringify(err.toJSON()),
  };
}

export function errorResponse(err: RelayError, headers: Record<string, string> = {}): Response {
  const parts = errorParts(err, headers);
  return new Response(parts.body, { status: parts.status, headers: parts.headers });
}

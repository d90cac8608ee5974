/**
 * The relay's error body (docs/protocol.md "Error codes"): Matrix-style `{errcode, error}` with
 * the HTTP status, plus mxcast's extra reason under a namespaced key. Sent as an HTTP body and as
 * the upload socket's `error` message; clients read it with parseMatrixError.
 */
import { jsonObjectOf, parseJsonObject } from './json-object.ts';

/** Where the relay puts a finer reason than the errcode (a format error code, a quota's name). */
export const REASON_KEY = 'org.matrix.msc4016.reason';

export interface MatrixError {
  errcode: string;
  error: string;
  /** The `org.matrix.msc4016.reason` member, when present. */
  reason?: string;
}

/** The error in a JSON body, or null when the text is not one (a proxy's HTML page, say). */
export function parseMatrixError(text: string): MatrixError | null {
  return matrixErrorOf(parseJsonObject(text));
}

/** The error in an already parsed value, or null. */
export function matrixErrorOf(v: unknown): MatrixError | null {
  const m = jsonObjectOf(v);
  if (typeof m?.errcode !== 'string') return null;
  const error = typeof m.error === 'string' ? m.error : '';
  const reason = m[REASON_KEY];
  return typeof reason === 'string'
    ? { errcode: m.errcode, error, reason }
    : { errcode: m.errcode, error };
}

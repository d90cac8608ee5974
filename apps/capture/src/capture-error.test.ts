/**
 * The capture's codes come from one table (exit statuses of docs/capture.md) and a relay's
 * answer reaches them through the shared failure names of @mxcast/client (docs/errors.md).
 */
import { ClientError } from '@mxcast/client';
import { describe, expect, it } from 'vitest';
import {
  CAPTURE_ERROR_CODES,
  CaptureError,
  EXIT_CODES,
  captureErrorFrom,
} from './capture-error.ts';

const relay = 'http://127.0.0.1:1';

describe('captureErrorFrom', () => {
  it.each([
    ['NETWORK', 0, 'NETWORK', 3, /cannot reach the relay/],
    ['M_UNKNOWN', 502, 'NETWORK', 3, /cannot reach the relay/],
    ['M_MISSING_TOKEN', 401, 'REFUSED', 4, /refused the access token/],
    ['M_UNKNOWN_TOKEN', 401, 'REFUSED', 4, /refused the access token/],
    ['M_FORBIDDEN', 403, 'REFUSED', 4, /refused the request/],
    ['M_TOO_LARGE', 413, 'LIMITED', 5, /full or a limit/],
    ['M_LIMIT_EXCEEDED', 429, 'LIMITED', 5, /full or a limit/],
    ['M_BAD_BLOCK', 400, 'RELAY_ERROR', 6, /answered with an error/],
    ['M_NOT_FOUND', 404, 'RELAY_ERROR', 6, /answered with an error/],
    ['M_UNKNOWN', 500, 'RELAY_ERROR', 6, /answered with an error/],
    ['BAD_ARGUMENT', 0, 'BAD_INPUT', 2, /^relay says no$/],
  ] as const)('%s (%i) → %s, exit %i', (clientCode, status, code, exit, text) => {
    const cause = new ClientError(clientCode, 'relay says no', status);
    const err = captureErrorFrom(cause, relay);
    expect(err).toBeInstanceOf(CaptureError);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(exit);
    expect(err.message).toMatch(text);
    expect(err.cause).toBe(cause);
  });

  it('an error that did not come from the client is a relay error, not a network failure', () => {
    expect(captureErrorFrom(new Error('boom'), relay).code).toBe('RELAY_ERROR');
    const own = new CaptureError('BAD_STATE', 'x');
    expect(captureErrorFrom(own, relay)).toBe(own);
  });

  it('exit statuses are the documented ones, each used once', () => {
    expect(EXIT_CODES).toEqual({
      BAD_INPUT: 2,
      NETWORK: 3,
      REFUSED: 4,
      LIMITED: 5,
      RELAY_ERROR: 6,
      BAD_STATE: 7,
      CANCELLED: 130,
    });
    expect(new Set(Object.values(CAPTURE_ERROR_CODES)).size).toBe(7);
  });
});

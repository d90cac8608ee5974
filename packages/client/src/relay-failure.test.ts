/**
 * The first step of docs/errors.md: a relay answer → one failure name. Errcodes decide; the
 * status decides only for answers without a known errcode (a proxy's page, a newer relay).
 */
import { describe, expect, it } from 'vitest';
import { CLIENT_OWN_CODES, RELAY_ERRCODES } from './client-error.ts';
import { RELAY_FAILURES, relayFailureOf } from './relay-failure.ts';

describe('relayFailureOf', () => {
  it.each([
    [401, 'M_MISSING_TOKEN', 'REFUSED'],
    [401, 'M_UNKNOWN_TOKEN', 'REFUSED'],
    [403, 'M_FORBIDDEN', 'REFUSED'],
    [404, 'M_NOT_FOUND', 'NOT_FOUND'],
    [413, 'M_TOO_LARGE', 'LIMITED'],
    [429, 'M_LIMIT_EXCEEDED', 'LIMITED'],
    [504, 'M_NOT_YET_UPLOADED', 'NETWORK'],
    [0, 'NETWORK', 'NETWORK'],
    [400, 'M_BAD_BLOCK', 'RELAY_ERROR'],
    [409, 'M_CONFLICT', 'RELAY_ERROR'],
    [400, 'M_BAD_JSON', 'RELAY_ERROR'],
    [200, 'BAD_RESPONSE', 'RELAY_ERROR'],
    [500, 'M_UNKNOWN', 'RELAY_ERROR'],
  ])('%i %s → %s', (status, code, failure) => {
    expect(relayFailureOf(status, code)).toBe(failure);
  });

  it.each([
    [0, 'NETWORK'],
    [401, 'REFUSED'],
    [403, 'REFUSED'],
    [404, 'NOT_FOUND'],
    [416, 'NOT_FOUND'],
    [413, 'LIMITED'],
    [429, 'LIMITED'],
    [502, 'NETWORK'],
    [503, 'NETWORK'],
    [504, 'NETWORK'],
    [500, 'RELAY_ERROR'],
    [400, 'RELAY_ERROR'],
    [418, 'RELAY_ERROR'],
  ])(
    'status %i with no known errcode (a proxy page, M_UNKNOWN, a newer code) → %s',
    (status, failure) => {
      expect(relayFailureOf(status)).toBe(failure);
      expect(relayFailureOf(status, 'M_UNKNOWN')).toBe(failure);
      expect(relayFailureOf(status, 'M_SOMETHING_NEWER')).toBe(failure);
    },
  );

  it('names every failure it can return, and no own code takes the M_ namespace', () => {
    const seen = new Set(
      [...RELAY_ERRCODES, ...Object.keys(CLIENT_OWN_CODES)].flatMap((code) =>
        [0, 400, 401, 403, 404, 413, 416, 429, 500, 502, 503, 504].map((s) =>
          relayFailureOf(s, code),
        ),
      ),
    );
    expect([...seen].sort()).toEqual(Object.keys(RELAY_FAILURES).sort());
    for (const own of Object.keys(CLIENT_OWN_CODES)) expect(own).not.toMatch(/^M_/);
  });
});

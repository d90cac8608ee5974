/**
 * PlayerError keeps what it reports (fatal, details, cause), and a relay's HTTP answer becomes
 * the player code of docs/errors.md through the shared relay-failure table.
 */
import { describe, expect, it } from 'vitest';
import { PLAYER_ERROR_CODES, PlayerError, playerCodeOf } from './player-error.ts';
import { httpError } from './relay-index.ts';
import { isTransientIndexError } from './index-fetch-retry.ts';

function answer(status: number, body?: unknown): Response {
  return new Response(body === undefined ? 'proxy says no' : JSON.stringify(body), { status });
}

describe('PlayerError', () => {
  it('keeps fatal, the cause and only the details that are set', () => {
    const cause = new TypeError('fetch failed');
    const err = new PlayerError('NETWORK', 'index: fetch failed', {
      fatal: false,
      cause,
      status: 503,
      seq: undefined,
    });
    expect(err.fatal).toBe(false);
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ status: 503 });
    expect(Object.keys(err.details)).toEqual(['status']);
    expect(new PlayerError('OUTPUT', 'closed', { fatal: true }).cause).toBeUndefined();
  });

  it('every relay failure is a player code of the same name', () => {
    for (const f of ['NETWORK', 'NOT_FOUND', 'REFUSED', 'LIMITED', 'RELAY_ERROR'] as const) {
      expect(playerCodeOf(f)).toBe(f);
      expect(PLAYER_ERROR_CODES[playerCodeOf(f)]).toEqual(expect.any(String));
    }
  });
});

describe('httpError: a relay answer → code and fatal', () => {
  it.each([
    [401, 'M_MISSING_TOKEN', 'REFUSED', true],
    [401, 'M_UNKNOWN_TOKEN', 'REFUSED', true],
    [403, 'M_FORBIDDEN', 'REFUSED', true],
    [404, 'M_NOT_FOUND', 'NOT_FOUND', true],
    [416, undefined, 'NOT_FOUND', true],
    [429, 'M_LIMIT_EXCEEDED', 'LIMITED', true],
    [400, 'M_INVALID_PARAM', 'RELAY_ERROR', true],
    [500, 'M_UNKNOWN', 'RELAY_ERROR', false],
    [502, undefined, 'NETWORK', false],
    [503, 'M_UNKNOWN', 'NETWORK', false],
    [504, 'M_NOT_YET_UPLOADED', 'NETWORK', false],
  ] as const)('%i %s → %s (fatal %s)', async (status, errcode, code, fatal) => {
    const body = errcode ? { errcode, error: 'relay words' } : undefined;
    const err = await httpError(answer(status, body), 'download');
    expect(err).toMatchObject({ code, fatal });
    expect(err.details.status).toBe(status);
    expect(err.message).toMatch(new RegExp(`^download: HTTP ${status}`));
    // Index requests retry what a retry may cure, and a 429 (the relay said "later").
    expect(isTransientIndexError(err)).toBe(!fatal || status === 429);
  });
});

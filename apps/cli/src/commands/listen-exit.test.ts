import { PLAYER_ERROR_CODES, type PlayerErrorCode } from '@mxcast/player';
import { describe, expect, it } from 'vitest';
import { listenExitCode } from './listen-exit.ts';

describe('mxcast listen exit statuses (docs/errors.md)', () => {
  it('gives every player code its documented status, and 1 to anything else', () => {
    const want: Record<PlayerErrorCode, number> = {
      WRONG_KEY: 4,
      TAMPERED: 4,
      NO_ACCESS: 8,
      NOT_FOUND: 5,
      REFUSED: 5,
      LIMITED: 5,
      RELAY_ERROR: 5,
      NETWORK: 6,
      OUTPUT: 7,
      BAD_REQUEST: 2,
      BAD_STREAM: 1,
    };
    for (const code of Object.keys(PLAYER_ERROR_CODES) as PlayerErrorCode[]) {
      expect([code, listenExitCode(code)]).toEqual([code, want[code]]);
    }
    expect(listenExitCode(undefined)).toBe(1);
    expect(listenExitCode('SOMETHING_NEW')).toBe(1);
  });
});

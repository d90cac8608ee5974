import { PLAYER_ERROR_CODES, type PlayerErrorCode } from '@mxcast/player';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LISTEN_EXIT, ROOM_EXIT, listenExitCode, roomExit } from './listen-exit.ts';

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

  it('docs/errors.md lists every exit status and every pre-play case in a room, as the code has them', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    const statuses = [...doc.matchAll(/^\| (\d+) \| `(\w+)` \|/gm)].map((m) => [
      m[2],
      Number(m[1]),
    ]);
    expect(Object.fromEntries(statuses)).toEqual(LISTEN_EXIT);
    const cases = [...doc.matchAll(/^\| `(\w+)` \| (\d+) \| `([^`]+)` \|$/gm)].map((m) => [
      m[1],
      { status: Number(m[2]), message: m[3] },
    ]);
    expect(Object.fromEntries(cases)).toEqual(ROOM_EXIT);
    const e = roomExit('noSuchBroadcast', { id: 'B1', room: '!r:hs' });
    expect([e.message, e.exitCode]).toEqual(['no broadcast B1 in !r:hs', 5]);
  });
});

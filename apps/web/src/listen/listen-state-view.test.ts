import { describe, expect, it } from 'vitest';
import type { ListenErrorCode } from './listen-engine.ts';
import { stateView } from './listen-state-view.ts';

describe('listener state view', () => {
  it('names each player error in words, and falls back to the error message', () => {
    const error = (errorCode?: ListenErrorCode, errorMessage?: string) =>
      stateView(
        { state: 'error', position: 3, delayBehindLive: null, errorCode, errorMessage },
        null,
        false,
      );
    expect(error('TAMPERED')).toMatchObject({ pill: 'Tampered', tone: 'err' });
    expect(error('TAMPERED').message).toMatch(/Nothing unverified was played/);
    expect(error('OUTPUT')).toMatchObject({ pill: 'Audio stopped', tone: 'err' });
    expect(error('LIMITED')).toMatchObject({ pill: 'Busy', tone: 'err' });
    expect(error('REFUSED').message).toMatch(/access token or permission/);
    // BAD_REQUEST has no fixed words: the player's own message says what was asked.
    expect(error('BAD_REQUEST', 'seek to 99 s: past the end')).toMatchObject({
      pill: 'Error',
      message: 'seek to 99 s: past the end',
    });
    expect(error(undefined, 'sink exploded')).toMatchObject({
      pill: 'Error',
      message: 'sink exploded',
    });
  });
});

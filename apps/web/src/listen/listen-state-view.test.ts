import { describe, expect, it } from 'vitest';
import { stateView } from './listen-state-view.ts';

describe('listener state view', () => {
  it('names each player error in words, and falls back to the error message', () => {
    const error = (errorCode?: 'TAMPERED' | 'OUTPUT', errorMessage?: string) =>
      stateView(
        { state: 'error', position: 3, delayBehindLive: null, errorCode, errorMessage },
        null,
        false,
      );
    expect(error('TAMPERED')).toMatchObject({ pill: 'Tampered', tone: 'err' });
    expect(error('TAMPERED').message).toMatch(/Nothing unverified was played/);
    expect(error('OUTPUT')).toMatchObject({ pill: 'Audio stopped', tone: 'err' });
    expect(error(undefined, 'sink exploded')).toMatchObject({
      pill: 'Error',
      message: 'sink exploded',
    });
  });
});

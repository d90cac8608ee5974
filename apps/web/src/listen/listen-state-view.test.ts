import type { MediaIndex } from '@mxcast/client';
import { describe, expect, it } from 'vitest';
import type { ListenErrorCode } from './listen-engine.ts';
import { stateView, verdictView } from './listen-state-view.ts';

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

  it('shows an interrupted broadcast at the live edge as interrupted, not as a frozen live one', () => {
    const index: MediaIndex = {
      state: 'live',
      byte_length: 4,
      block_count: 40,
      byte_order: 'be',
      header_end: 300,
      block_size: 1000,
      first_offsets: [4, 100],
      geometry: null,
      sha256: null,
      listeners: 1,
      created_at: 1,
    };
    const at = (state: 'live' | 'buffering' | 'playing', interrupted: boolean) =>
      stateView({ state, position: 3, delayBehindLive: 0 }, { ...index, interrupted }, false);
    expect(at('buffering', true)).toMatchObject({ pill: 'Interrupted', tone: 'warn' });
    expect(at('live', true).pill).toBe('Interrupted');
    expect(at('live', false).pill).toBe('Live');
    // Replaying earlier audio goes on: nothing is frozen there.
    expect(at('playing', true).pill).toBe('Replaying');
  });

  it('gives every plain state its own data-view: cancelled from the relay, no access, paused', () => {
    const at = (state: 'ended-without-finishing' | 'stopped', upload: string | null) =>
      stateView(
        { state, position: 4, delayBehindLive: null },
        upload ? ({ state: upload } as unknown as MediaIndex) : null,
        state === 'stopped',
      );
    expect(at('ended-without-finishing', 'cancelled')).toMatchObject({
      view: 'cancelled',
      pill: 'Cancelled',
    });
    expect(at('ended-without-finishing', 'live')).toMatchObject({ view: 'ended-early' });
    expect(at('stopped', 'live')).toMatchObject({ view: 'paused', pill: 'Paused' });
    const noAccess = stateView(
      { state: 'error', position: 4, delayBehindLive: null, errorCode: 'NO_ACCESS' },
      null,
      false,
    );
    expect(noAccess).toMatchObject({ view: 'no-access', pill: 'No access' });
    expect(noAccess.message).toMatch(/^You no longer have access to this broadcast/);
  });

  it("says the sender's verdict once playback ended, tampering at once", () => {
    expect(verdictView('cut', 'live')).toBeNull();
    expect(verdictView('cut', 'ended-without-finishing')).toMatchObject({
      view: 'cut',
      pill: 'Cut by the relay',
    });
    expect(verdictView('cancelled', 'finished')).toMatchObject({ view: 'cancelled' });
    expect(verdictView('interrupted', 'ended-without-finishing')).toMatchObject({
      view: 'interrupted',
    });
    expect(verdictView('tampered', 'live')).toMatchObject({ view: 'tampered', tone: 'err' });
  });
});

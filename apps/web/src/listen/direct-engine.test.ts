import { describe, expect, it } from 'vitest';
import { untilFirstAudio, whileHeard } from './direct-engine.ts';

describe('direct engine: state and position change together', () => {
  it('holds live/playing back until audio of this start or seek reached the worklet', () => {
    expect(untilFirstAudio('live', false, 'connecting')).toBe('connecting');
    expect(untilFirstAudio('playing', false, 'seeking')).toBe('seeking');
    expect(untilFirstAudio('live', true, 'connecting')).toBe('live');
    expect(untilFirstAudio('playing', true, 'seeking')).toBe('playing');
    // Every other state is the player's own, audio or not (an error before any audio shows).
    for (const state of ['error', 'finished', 'buffering', 'stopped', 'seeking'] as const) {
      expect(untilFirstAudio(state, false, 'connecting')).toBe(state);
    }
  });
});

describe('direct engine: the end is when it is heard', () => {
  it('reads finished as playing while the worklet still holds audio to play', () => {
    // A replay over WebSocket: the player handed the whole recording over at once.
    expect(whileHeard('finished', 20)).toBe('playing');
    expect(whileHeard('ended-without-finishing', 3)).toBe('playing');
    // The tail played out (the worklet's reports lag by 0.1 s): the player's own end shows.
    expect(whileHeard('finished', 0.05)).toBe('finished');
    expect(whileHeard('ended-without-finishing', 0)).toBe('ended-without-finishing');
    // Any other state is the player's own, queued audio or not.
    for (const state of ['error', 'live', 'playing', 'buffering', 'stopped', 'seeking'] as const) {
      expect(whileHeard(state, 5)).toBe(state);
    }
  });
});

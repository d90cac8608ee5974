import { describe, expect, it } from 'vitest';
import { untilFirstAudio } from './direct-engine.ts';

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

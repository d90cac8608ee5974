import { describe, expect, it } from 'vitest';
import type { PlayerState } from './player-events.ts';
import {
  IllegalTransition,
  PlayerStateMachine,
  TERMINAL_STATES,
  TRANSITIONS,
  isTerminal,
} from './player-state-machine.ts';

const ALL: PlayerState[] = [
  'idle',
  'connecting',
  'live',
  'playing',
  'seeking',
  'buffering',
  'finished',
  'ended-without-finishing',
  'stopped',
  'error',
];
const ENDS: PlayerState[] = ['finished', 'ended-without-finishing', 'stopped', 'error'];

/** The edges docs/player.md "States" draws, written out one by one (not derived from the table). */
const ALLOWED: [PlayerState, PlayerState][] = [
  ['idle', 'connecting'],
  ...(['live', 'playing', 'seeking', 'buffering', ...ENDS] as PlayerState[]).map(
    (to) => ['connecting', to] as [PlayerState, PlayerState],
  ),
  ['live', 'playing'],
  ['live', 'seeking'],
  ['live', 'buffering'],
  ['playing', 'live'],
  ['playing', 'seeking'],
  ['playing', 'buffering'],
  ['seeking', 'live'],
  ['seeking', 'playing'],
  ['seeking', 'buffering'],
  ['buffering', 'live'],
  ['buffering', 'playing'],
  ['buffering', 'seeking'],
  ...(['live', 'playing', 'seeking', 'buffering'] as PlayerState[]).flatMap((from) =>
    ENDS.map((to) => [from, to] as [PlayerState, PlayerState]),
  ),
];
const allowed = new Set(ALLOWED.map(([from, to]) => `${from}>${to}`));

/** A machine driven to `state` along allowed edges, with the changes it reported. */
function machineIn(state: PlayerState) {
  const changes: string[] = [];
  const m = new PlayerStateMachine((to, from) => changes.push(`${from}>${to}`));
  const path: Record<PlayerState, PlayerState[]> = {
    idle: [],
    connecting: ['connecting'],
    live: ['connecting', 'live'],
    playing: ['connecting', 'playing'],
    seeking: ['connecting', 'seeking'],
    buffering: ['connecting', 'buffering'],
    finished: ['connecting', 'playing', 'finished'],
    'ended-without-finishing': ['connecting', 'ended-without-finishing'],
    stopped: ['connecting', 'stopped'],
    error: ['connecting', 'error'],
  };
  for (const step of path[state]) m.to(step);
  changes.length = 0;
  return { m, changes };
}

describe('player state machine', () => {
  it('the table has every state and exactly the documented edges', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ALL].sort());
    const table = Object.entries(TRANSITIONS).flatMap(([from, tos]) =>
      tos.map((to) => `${from}>${to}`),
    );
    expect(new Set(table)).toEqual(allowed);
    expect(table.length).toBe(allowed.size);
  });

  it('takes every allowed edge, reporting it once with the previous state', () => {
    for (const [from, to] of ALLOWED) {
      const { m, changes } = machineIn(from);
      expect(m.can(to)).toBe(true);
      m.to(to);
      expect(m.state).toBe(to);
      expect(changes).toEqual([`${from}>${to}`]);
    }
  });

  it('refuses every other edge with IllegalTransition and stays where it was', () => {
    let refused = 0;
    for (const from of ALL) {
      for (const to of ALL) {
        if (from === to || allowed.has(`${from}>${to}`)) continue;
        const { m, changes } = machineIn(from);
        expect(m.can(to)).toBe(false);
        expect(() => m.to(to)).toThrow(IllegalTransition);
        expect(m.tryTo(to)).toBe(false);
        expect(m.state).toBe(from);
        expect(changes).toEqual([]);
        refused++;
      }
    }
    // 10 states: 90 ordered pairs, 37 of them allowed.
    expect(refused).toBe(90 - ALLOWED.length);
    expect(ALLOWED.length).toBe(37);
  });

  it('names both ends of a refused edge', () => {
    const { m } = machineIn('finished');
    try {
      m.to('playing');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ from: 'finished', to: 'playing' });
      expect((err as Error).message).toContain('finished to playing');
    }
  });

  it('staying in the same state is no transition and no event', () => {
    for (const state of ALL) {
      const { m, changes } = machineIn(state);
      expect(m.can(state)).toBe(true);
      m.to(state);
      expect(m.tryTo(state)).toBe(true);
      expect(m.state).toBe(state);
      expect(changes).toEqual([]);
    }
  });

  it('terminal states are the outcomes of play(), with no way out', () => {
    expect([...TERMINAL_STATES].sort()).toEqual([...ENDS].sort());
    for (const state of ALL) {
      expect(isTerminal(state)).toBe(ENDS.includes(state));
      expect(machineIn(state).m.isOver).toBe(ENDS.includes(state));
    }
    for (const end of ENDS) expect(TRANSITIONS[end]).toEqual([]);
  });

  it('a race with the end of playback is refused quietly by tryTo (the paced playout timer)', () => {
    const { m, changes } = machineIn('live');
    m.to('stopped');
    expect(m.tryTo('buffering')).toBe(false);
    expect(m.tryTo('playing')).toBe(false);
    expect(m.state).toBe('stopped');
    expect(changes).toEqual(['live>stopped']);
  });
});

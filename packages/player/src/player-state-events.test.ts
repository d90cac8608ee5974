/**
 * The Player's `state` events follow the state machine's table (player-state-machine.ts), on
 * the paths that need no broadcast: a relay that cannot be reached (reconnects, then fatal
 * NETWORK) and stop() while connecting. Playback paths are covered end to end in tests/player.
 */
import { createServer, type Server } from 'node:net';
import { generateEncryptedFile } from '@mxcast/format';
import { afterEach, describe, expect, it } from 'vitest';
import { Player } from './player.ts';
import type { PlayerState } from './player-events.ts';
import { TRANSITIONS } from './player-state-machine.ts';
import { MemorySink } from './sink/pcm-sink.ts';

/** A loopback port with nothing listening (bound, then closed): connections are refused. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function recordStates(player: Player): [PlayerState, PlayerState][] {
  const edges: [PlayerState, PlayerState][] = [];
  player.on('state', ({ state, previous }) => edges.push([previous, state]));
  return edges;
}

const players: Player[] = [];
afterEach(() => {
  for (const p of players.splice(0)) p.stop();
});

describe('Player state events', () => {
  it('an unreachable relay: connecting, buffering while reconnecting, then fatal NETWORK', async () => {
    const sink = new MemorySink();
    const player = new Player({
      relayUrl: `http://127.0.0.1:${await closedPort()}`,
      mxc: 'mxc://example.org/abcdef',
      file: generateEncryptedFile(),
      sink,
      reconnectAttempts: 2,
      reconnectDelayMs: 1,
      maxReconnectDelayMs: 2,
    });
    players.push(player);
    const edges = recordStates(player);
    const reconnects: number[] = [];
    player.on('reconnecting', ({ attempt }) => reconnects.push(attempt));
    expect(player.state).toBe('idle');
    const outcome = await player.play({ time: 0 });
    expect(outcome.state).toBe('error');
    expect(outcome.error?.code).toBe('NETWORK');
    expect(outcome.error?.fatal).toBe(true);
    expect(reconnects).toEqual([1, 2]);
    expect(edges).toEqual([
      ['idle', 'connecting'],
      ['connecting', 'buffering'],
      ['buffering', 'error'],
    ]);
    for (const [from, to] of edges) expect(TRANSITIONS[from]).toContain(to);
    expect(player.state).toBe('error');
    expect(sink.chunks).toEqual([]);
  });

  it('stop() while connecting ends in stopped, through allowed edges only', async () => {
    const player = new Player({
      relayUrl: `http://127.0.0.1:${await closedPort()}`,
      mxc: 'mxc://example.org/abcdef',
      file: generateEncryptedFile(),
      sink: new MemorySink(),
      reconnectDelayMs: 50,
    });
    players.push(player);
    const edges = recordStates(player);
    const done = player.play({ live: true });
    expect(player.state).toBe('connecting');
    player.stop();
    const outcome = await done;
    expect(outcome.state).toBe('stopped');
    expect(edges[0]).toEqual(['idle', 'connecting']);
    expect(edges.at(-1)).toEqual([edges.at(-1)?.[0], 'stopped']);
    for (const [from, to] of edges) expect(TRANSITIONS[from]).toContain(to);
    // Over: a late seek() changes nothing.
    player.seek(3);
    expect(player.state).toBe('stopped');
  });
});

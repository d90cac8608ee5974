/**
 * What the cluster tests check on the listening side: an in-process Player (packages/player)
 * given every relay node, recording each block's seq, its reconnects and the PCM it produced, so
 * a test can assert "no gap, no duplicate" across a node's death; and a TCP front that can be
 * killed like a node (for failover of clients without a cluster behind them).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { parseListenLink } from '@mxcast/client';
import { MemorySink, Player, type PlayerOutcome } from '@mxcast/player';
import { NodeWebSocket } from '@mxcast/player/node';

export interface RecordedListener {
  transport: 'http' | 'ws';
  /** Seqs of the blocks that authenticated, in order. */
  seqs: number[];
  /** `fromSeq` of each reconnect. */
  reconnects: number[];
  sink: MemorySink;
  player: Player;
  done: Promise<PlayerOutcome>;
}

/** A Player on `relays[0]` (the others its fallbacks), joined live and recording what it hears. */
export function listenLive(
  link: string,
  relays: string[],
  transport: 'http' | 'ws',
  token?: string,
): RecordedListener {
  const parsed = parseListenLink(link);
  const sink = new MemorySink();
  const seqs: number[] = [];
  const reconnects: number[] = [];
  const [relayUrl, ...fallbackRelayUrls] = relays;
  const player = new Player({
    relayUrl: relayUrl as string,
    fallbackRelayUrls,
    mxc: parsed.mxc,
    file: parsed.file,
    sink,
    transport,
    WebSocket: NodeWebSocket,
    reconnectDelayMs: 50,
    maxReconnectDelayMs: 400,
    ...(token ? { accessToken: token } : {}),
  });
  player.on('block', ({ seq }) => seqs.push(seq));
  player.on('reconnecting', ({ fromSeq }) => reconnects.push(fromSeq));
  return { transport, seqs, reconnects, sink, player, done: player.play({ live: true }) };
}

/**
 * Every block from the first heard to the EOS exactly once and in order, and the PCM contiguous:
 * no gap, no duplicate, wherever the listener reconnected.
 */
export async function expectGapless(
  l: RecordedListener,
  lastSeq: number,
  ms = 20_000,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const s = l.player.status();
      reject(
        new Error(
          `${l.transport} listener not over after ${ms} ms: ${s.state}, last seq ${s.lastSeq} of ${lastSeq}, ${s.reconnects} reconnects`,
        ),
      );
    }, ms);
  });
  const outcome = await Promise.race([l.done, late]).finally(() => clearTimeout(timer));
  expect(outcome.state, `${l.transport}: ${outcome.error?.message ?? ''}`).toBe('finished');
  const first = l.seqs[0] as number;
  expect(l.seqs, l.transport).toEqual(
    Array.from({ length: lastSeq - first + 1 }, (_, i) => first + i),
  );
  let at = l.sink.chunks[0]?.startSample ?? 0;
  for (const c of l.sink.chunks) {
    expect(c.startSample, l.transport).toBe(at);
    at += c.pcm.length;
  }
}

export interface KillableFront {
  url: string;
  /** Refuses new connections and cuts every open one, like a node that died. */
  kill(): Promise<void>;
}

/** A TCP forwarder to `target` (host:port): a second address for one relay, which can die. */
export async function startFront(targetPort: number): Promise<KillableFront> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    kill: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** The hostile crowd against a stand-in server on loopback that records what each socket sends. */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  crowdPlacementFromEnv,
  floodFrame,
  HostileCrowd,
  hostileOnlyFromEnv,
  type HostileTarget,
} from './hostile-crowd.ts';
import { HostileCrowdProcess, openHostileCrowd } from './hostile-crowd-process.ts';
import { metricSum } from './prometheus-text.ts';

interface Conn {
  socket: net.Socket;
  head: string;
  bytes: number;
}

let server: net.Server | null = null;
let crowd: HostileCrowd | null = null;
afterEach(async () => {
  crowd?.close();
  await new Promise((r) => (server ? server.close(r) : r(null)));
  server = null;
});

/** Answers 101 to upgrades of the live path, nothing to anything else; records every byte. */
async function standIn(conns: Conn[]): Promise<number> {
  server = net.createServer((socket) => {
    const c: Conn = { socket, head: '', bytes: 0 };
    conns.push(c);
    socket.on('data', (d: Buffer) => {
      c.bytes += d.length;
      if (!c.head.includes('\r\n\r\n')) {
        c.head += d.toString('latin1');
        if (c.head.startsWith('GET /live') && c.head.includes('\r\n\r\n'))
          socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** A stand-in's paths as a crowd's target (a stalled reader outlives every test). */
async function standInTarget(conns: Conn[]): Promise<HostileTarget> {
  return {
    port: await standIn(conns),
    historyWsPath: '/history-ws?from=0',
    historyDownloadPath: '/history-download',
    liveWsPath: '/live',
    stalledLifetimeMs: 60_000,
  };
}

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('HostileCrowd', () => {
  it('opens stalled readers (WS from 0 and a download) and flooders that reconnect when cut', async () => {
    const conns: Conn[] = [];
    crowd = new HostileCrowd(await standInTarget(conns));
    await crowd.start(4);
    await until(() => conns.filter((c) => c.head.includes('\r\n\r\n')).length === 4);
    const heads = conns.map((c) => c.head.split('\r\n')[0]).sort();
    expect(heads).toEqual([
      'GET /history-download HTTP/1.1',
      'GET /history-ws?from=0 HTTP/1.1',
      'GET /live HTTP/1.1',
      'GET /live HTTP/1.1',
    ]);
    const wsHead = conns.find((c) => c.head.startsWith('GET /history-ws'))?.head ?? '';
    expect(wsHead).toMatch(/Upgrade: websocket/);
    // RFC 6455 §4.1: the key is 16 random bytes, base64 (a server refuses any other length).
    const key = /Sec-WebSocket-Key: (\S+)/.exec(wsHead)?.[1] ?? '';
    expect(Buffer.from(key, 'base64').length).toBe(16);
    // The flooders send frames past their request; the stalled readers nothing more.
    const flooders = conns.filter((c) => c.head.startsWith('GET /live'));
    await until(() => flooders.every((c) => c.bytes > c.head.length + 10 * 1032));
    for (const c of conns.filter((x) => !x.head.startsWith('GET /live')))
      expect(c.bytes).toBe(c.head.length);
    // Cut one flooder: it comes back.
    flooders[0]?.socket.destroy();
    await until(() => conns.filter((c) => c.head.startsWith('GET /live')).length === 3);
    expect(crowd.stats()).toMatchObject({ stalledReaders: 2, flooders: 2, floodersClosed: 1 });
    expect(crowd.stats().framesSent).toBeGreaterThan(20);
  });

  it("stops a flooder's frames at the relay's close frame, even in the 101's chunk", async () => {
    const conns: Conn[] = [];
    server = net.createServer((socket) => {
      const c: Conn = { socket, head: '', bytes: 0 };
      conns.push(c);
      socket.on('data', (d: Buffer) => {
        c.bytes += d.length;
        if (c.head.includes('\r\n\r\n')) return;
        c.head += d.toString('latin1');
        if (!c.head.includes('\r\n\r\n')) return;
        // A block frame, then a close frame (1009), in the same write as the head.
        // 600 blocks first: the chunk is longer than the 4 KiB a head may take, and still an upgrade.
        const block = Buffer.concat(
          Array.from({ length: 600 }, () => Buffer.from([0x82, 8, 0, 0, 0, 0, 0, 0, 0, 7])),
        );
        const close = Buffer.from([0x88, 2, 0x03, 0xf1]);
        socket.write(
          Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n'), block, close]),
        );
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const port = (server?.address() as net.AddressInfo).port;
    crowd = new HostileCrowd({
      port,
      historyWsPath: '/h',
      historyDownloadPath: '/d',
      liveWsPath: '/live',
      stalledLifetimeMs: 60_000,
    });
    await crowd.startFlooders(1);
    await new Promise((r) => setTimeout(r, 200));
    // At most the first burst went out before the close frame was read; then nothing more.
    const sent = crowd.stats().framesSent;
    expect(sent).toBeLessThanOrEqual(8);
    await new Promise((r) => setTimeout(r, 200));
    expect(crowd.stats().framesSent).toBe(sent);
    expect(conns).toHaveLength(1);
    expect(crowd.stats().floodersRefused).toBe(0);
  });

  it("opens one kind only, or none at all (an A/A run's second clean side)", async () => {
    const conns: Conn[] = [];
    const target = await standInTarget(conns);
    crowd = new HostileCrowd(target);
    await crowd.start(4, 'none');
    await new Promise((r) => setTimeout(r, 200));
    expect(conns).toHaveLength(0);
    expect(crowd.stats()).toMatchObject({ stalledReaders: 0, flooders: 0 });
    crowd.close();
    crowd = new HostileCrowd(target);
    await crowd.start(4, 'flood');
    await until(() => conns.filter((c) => c.head.includes('\r\n\r\n')).length === 2);
    expect(conns.every((c) => c.head.startsWith('GET /live'))).toBe(true);
    expect(crowd.stats()).toMatchObject({ stalledReaders: 0, flooders: 2 });
  });

  it('reads MXCAST_BENCH_HOSTILE_ONLY: stalled, flood, none, or refuses', () => {
    const saved = process.env.MXCAST_BENCH_HOSTILE_ONLY;
    try {
      for (const v of ['stalled', 'flood', 'none'] as const) {
        process.env.MXCAST_BENCH_HOSTILE_ONLY = v;
        expect(hostileOnlyFromEnv()).toBe(v);
      }
      process.env.MXCAST_BENCH_HOSTILE_ONLY = '';
      expect(hostileOnlyFromEnv()).toBeUndefined();
      process.env.MXCAST_BENCH_HOSTILE_ONLY = 'all';
      expect(() => hostileOnlyFromEnv()).toThrow(/not stalled, flood or none/);
    } finally {
      if (saved === undefined) delete process.env.MXCAST_BENCH_HOSTILE_ONLY;
      else process.env.MXCAST_BENCH_HOSTILE_ONLY = saved;
    }
  });

  it('reads where the crowd runs from MXCAST_BENCH_CROWD, the own process by default', () => {
    const saved = process.env.MXCAST_BENCH_CROWD;
    try {
      delete process.env.MXCAST_BENCH_CROWD;
      expect(crowdPlacementFromEnv()).toBe('process');
      for (const v of ['process', 'generator-session', 'server-core', 'generator'] as const) {
        process.env.MXCAST_BENCH_CROWD = v;
        expect(crowdPlacementFromEnv()).toBe(v);
      }
      process.env.MXCAST_BENCH_CROWD = 'relay';
      expect(() => crowdPlacementFromEnv()).toThrow(
        /not process, generator-session, server-core, generator/,
      );
    } finally {
      if (saved === undefined) delete process.env.MXCAST_BENCH_CROWD;
      else process.env.MXCAST_BENCH_CROWD = saved;
    }
  });

  it('builds a masked binary frame with a 16-bit length', () => {
    const f = floodFrame(1024);
    expect([...f.subarray(0, 8)]).toEqual([0x82, 0x80 | 126, 4, 0, 0, 0, 0, 0]);
    expect(f.length).toBe(8 + 1024);
    expect(() => floodFrame(100)).toThrow(RangeError);
  });
});

describe('HostileCrowdProcess', () => {
  it('opens the crowd in a process of its own under SCHED_IDLE, and stops it with its counts', async () => {
    const conns: Conn[] = [];
    const target = await standInTarget(conns);
    const proc = await HostileCrowdProcess.open({ count: 4, target }, 0, 20_000);
    try {
      // Opened: all four connections have sent their request by now.
      await until(() => conns.filter((c) => c.head.includes('\r\n\r\n')).length === 4, 2000);
      // SCHED_IDLE (policy 5), every thread of it: the kernel gives the core to the generator
      // whenever it wakes.
      expect(proc.idlePolicy).toBe(true);
      const threads = readdirSync(`/proc/${proc.pid}/task`);
      expect(threads.length).toBeGreaterThan(1);
      for (const tid of threads)
        expect(readFileSync(`/proc/${proc.pid}/task/${tid}/sched`, 'utf8')).toMatch(
          /^policy\s*:\s*5$/m,
        );
      const flooders = conns.filter((c) => c.head.startsWith('GET /live'));
      await until(() => flooders.every((c) => c.bytes > c.head.length + 10 * 1032));
      const report = await proc.stop();
      expect(report.stats).toMatchObject({ stalledReaders: 2, flooders: 2, stalledOpened: 2 });
      expect(report.stats.framesSent).toBeGreaterThan(20);
      expect(report.cpuPct).toBeGreaterThan(0);
      expect(report.cpuPct).toBeLessThan(100);
      // Stopped: every hostile socket is closed.
      await until(() => conns.every((c) => c.socket.destroyed || c.socket.readableEnded));
    } finally {
      await proc.kill();
    }
  }, 30_000);

  it("MXCAST_BENCH_CROWD=generator: the same crowd in this process's event loop", async () => {
    const conns: Conn[] = [];
    const target = await standInTarget(conns);
    const open = await openHostileCrowd('generator', { count: 4, target }, 20_000);
    try {
      expect(open).toMatchObject({ placement: 'generator', idlePolicy: false });
      await until(() => conns.filter((c) => c.head.includes('\r\n\r\n')).length === 4, 2000);
      const flooders = conns.filter((c) => c.head.startsWith('GET /live'));
      await until(() => flooders.every((c) => c.bytes > c.head.length + 10 * 1032));
      const report = await open.stop();
      expect(report.stats).toMatchObject({ stalledReaders: 2, flooders: 2, stalledOpened: 2 });
      expect(report.stats.framesSent).toBeGreaterThan(20);
      // Its CPU is this process's: not reported apart.
      expect(report.cpuPct).toBeNull();
      await until(() => conns.every((c) => c.socket.destroyed || c.socket.readableEnded));
    } finally {
      await open.kill();
    }
  }, 30_000);

  it('rejects with the reason when the crowd cannot start (no target)', async () => {
    const bad = { count: 2 } as unknown as Parameters<typeof HostileCrowdProcess.open>[0];
    await expect(HostileCrowdProcess.open(bad, 0, 20_000)).rejects.toThrow(/hostile crowd/);
  }, 30_000);
});

describe('metricSum', () => {
  const text = [
    '# HELP mxcast_slow_listeners_total x',
    'mxcast_slow_listeners_total{action="moved"} 2',
    'mxcast_slow_listeners_total{action="stalled"} 7',
    'mxcast_history_budget_bytes 65536',
  ].join('\n');

  it('reads one labelled sample, all samples, or null when absent', () => {
    expect(metricSum(text, 'mxcast_slow_listeners_total', '{action="stalled"}')).toBe(7);
    expect(metricSum(text, 'mxcast_slow_listeners_total')).toBe(9);
    expect(metricSum(text, 'mxcast_history_budget_bytes')).toBe(65536);
    expect(metricSum(text, 'mxcast_listener_messages_refused_total')).toBeNull();
  });
});

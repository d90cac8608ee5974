/**
 * The hostile tenth of a `relay-ws-hostile` row (docs/operations.md "Listeners and memory"), run
 * in a process of its own on the load generator's core (hostile-crowd-main.ts says why):
 * - stalled history readers: half of the crowd, alternately a WebSocket `from=0` and an HTTP
 *   download of a finished media of several MB, sending their request and then never reading
 *   a byte (the socket paused). The relay cuts them after `listenerStallMs`; each is replaced
 *   after `stalledLifetimeMs` (a paused socket cannot see that cut), so the crowd stays whole for
 *   the entire hold;
 * - frame flooders: the other half, WebSocket listeners of the live media that read (and drop)
 *   what they get and send masked 1 KiB binary frames (8 every 20 ms: 400 KB/s each), which a
 *   listener has no reason to send, until the relay's close frame arrives; when the relay ends
 *   the connection, it reconnects a second later. Why stop at the close frame: the relay reads
 *   nothing more from a socket it closed (it holds it unread for limits.listenerCloseGraceMs), so
 *   frames written after it cost the relay nothing, only the generator's core — the one that
 *   times the honest listeners (at low-latency N = 3000, 150 flooders wrote ~16 000 frames a
 *   second into such sockets, and that core was saturated).
 * The pacing keeps the crowd's own CPU small, so that at its low priority it still gets all it
 * needs from what the honest listeners leave of that core.
 * Every socket is raw (node:net), like the honest pool's.
 */
import net from 'node:net';
import { WsFrameReader } from './ws-frame-reader.ts';

export interface HostileTarget {
  port: number;
  /** WebSocket path of a finished media from block 0. */
  historyWsPath: string;
  /** Download path of that media (the whole file). */
  historyDownloadPath: string;
  /** WebSocket path of the live media. */
  liveWsPath: string;
  /** A stalled reader is replaced after this long (longer than the relay's listenerStallMs). */
  stalledLifetimeMs: number;
}

export interface HostileStats {
  stalledReaders: number;
  flooders: number;
  /** Stalled readers opened in all (the replacements included). */
  stalledOpened: number;
  /** Frames the flooders wrote. */
  framesSent: number;
  /** Flooder connections the relay closed (each then reconnected). */
  floodersClosed: number;
  /** Flooder connections the relay answered with anything but 101 (then retried). */
  floodersRefused: number;
}

/** What a hostile row's crowd did, and what the relay says it cut (its /metrics at hold end). */
export interface HostileResult extends HostileStats {
  /** mxcast_slow_listeners_total{action="stalled"}: history readers cut without progress. */
  relayStalledCut: number | null;
  /** mxcast_listener_messages_refused_total, all reasons: listeners closed for what they sent. */
  relayFloodersCut: number | null;
  /** mxcast_history_budget_bytes at hold end. */
  relayHistoryBudgetBytes: number | null;
  /** mxcast_listeners, both transports, at hold end: honest and hostile listeners the relay counts. */
  relayListeners: number | null;
  /** Where the crowd ran (MXCAST_BENCH_CROWD). */
  crowdPlacement: CrowdPlacement;
  /**
   * CPU the crowd's own process used from opening to hold end, % of one core; null when it ran in
   * the load generator (its CPU is then in the generator's).
   */
  crowdCpuPct: number | null;
  /** Whether the crowd's process ran under SCHED_IDLE (hostile-crowd-process.ts). */
  crowdIdlePolicy: boolean;
}

/** Frames a flooder writes per burst, and the pause between bursts. */
const BURST_FRAMES = 8;
const BURST_EVERY_MS = 20;
const RECONNECT_MS = 1000;

/** A masked (RFC 6455 §5.3) binary frame of `size` (126..65535) bytes of zeros, mask key 0. */
export function floodFrame(size = 1024): Buffer {
  if (size < 126 || size > 0xffff) throw new RangeError(`flood frame size ${size}`);
  const frame = Buffer.alloc(8 + size);
  frame[0] = 0x82; // FIN + binary
  frame[1] = 0x80 | 126; // masked, 16-bit length
  frame.writeUInt16BE(size, 2);
  // Mask key 0 (bytes 4..7) leaves the zero payload as it is.
  return frame;
}

export function upgradeRequest(port: number, path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    'Connection: Upgrade\r\nSec-WebSocket-Key: bXhjYXN0LWhvc3RpbGUxNg==\r\n' +
    'Sec-WebSocket-Version: 13\r\n\r\n'
  );
}

/**
 * MXCAST_BENCH_HOSTILE_ONLY: a diagnosis run with one kind of hostile client only, or `none`: the
 * "hostile" run of each pair opens no crowd at all (an A/A run: what two clean runs of a pair
 * differ by, the bench's own noise, against which a hostile row's change is read).
 */
export type HostileOnly = 'stalled' | 'flood' | 'none';
export function hostileOnlyFromEnv(): HostileOnly | undefined {
  const v = process.env.MXCAST_BENCH_HOSTILE_ONLY;
  if (v === undefined || v === '') return undefined;
  if (v === 'stalled' || v === 'flood' || v === 'none') return v;
  throw new Error(`MXCAST_BENCH_HOSTILE_ONLY: '${v}' is not stalled, flood or none`);
}

/**
 * MXCAST_BENCH_CROWD: where a hostile row's crowd runs. `process` (the default): a process of its
 * own on the load generator's core, in a session of its own, under SCHED_IDLE
 * (hostile-crowd-main.ts says why). `generator-session`: the same process in the load generator's
 * session instead, so that it shares the generator's autogroup (sched(7)) and SCHED_IDLE weighs
 * against the generator itself rather than only within a group of its own. `server-core`: the
 * process on the server's core (own session, SCHED_IDLE). `generator`: inside the load generator's
 * event loop, beside the honest listeners it times, as before 2026-12-05. The others exist to
 * compare with the default in the same hour; none beat it (docs/hostile-bench.md, 2026-12-06,
 * night).
 */
export const CROWD_PLACEMENTS = [
  'process',
  'generator-session',
  'server-core',
  'generator',
] as const;
export type CrowdPlacement = (typeof CROWD_PLACEMENTS)[number];
export function crowdPlacementFromEnv(): CrowdPlacement {
  const v = process.env.MXCAST_BENCH_CROWD;
  if (v === undefined || v === '') return 'process';
  const placement = CROWD_PLACEMENTS.find((p) => p === v);
  if (placement) return placement;
  throw new Error(`MXCAST_BENCH_CROWD: '${v}' is not ${CROWD_PLACEMENTS.join(', ')}`);
}

/**
 * MXCAST_BENCH_CROWD_LEAD_S: seconds each run waits after its joins (the hostile run of a pair
 * after its crowd opened) before the hold's window opens; 0 by default; for hostile rows. A crowd
 * given one longest hold of lead (31 s) is in its steady state when the window opens: its flooders
 * come back spread out, not in the one wave of the default window; it cost the honest listeners
 * as much (docs/hostile-bench.md, 2026-12-06, night). The clean run waits the same, or the two
 * windows would differ by more than the crowd.
 */
export function crowdLeadMsFromEnv(): number {
  const v = process.env.MXCAST_BENCH_CROWD_LEAD_S;
  if (v === undefined || v === '') return 0;
  if (!/^\d{1,3}$/.test(v))
    throw new Error(`MXCAST_BENCH_CROWD_LEAD_S: '${v}' is not a whole number of seconds`);
  return Number(v) * 1000;
}

export class HostileCrowd {
  readonly #t: HostileTarget;
  readonly #frame = floodFrame();
  readonly #sockets = new Set<net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  #stats: HostileStats = {
    stalledReaders: 0,
    flooders: 0,
    stalledOpened: 0,
    framesSent: 0,
    floodersClosed: 0,
    floodersRefused: 0,
  };

  constructor(target: HostileTarget) {
    this.#t = target;
  }

  /**
   * Opens `count` hostile connections (half stalled readers, half flooders). `only` opens just
   * one of the halves (the other left out, not swapped in): what each kind costs the honest
   * listeners, apart (MXCAST_BENCH_HOSTILE_ONLY=stalled|flood in a bench run).
   */
  async start(count: number, only = hostileOnlyFromEnv()): Promise<void> {
    const stalled = Math.ceil(count / 2);
    await Promise.all([
      only === 'flood' || only === 'none' ? undefined : this.startStalled(stalled),
      only === 'stalled' || only === 'none' ? undefined : this.startFlooders(count - stalled),
    ]);
  }

  /** Opens `count` stalled history readers only (alternately WebSocket and download). */
  async startStalled(count: number): Promise<void> {
    this.#stats.stalledReaders += count;
    const opening: Promise<void>[] = [];
    for (let i = 0; i < count; i++) opening.push(this.#stalled(i % 2 === 0));
    await Promise.all(opening);
  }

  /** Opens `count` frame flooders only. */
  async startFlooders(count: number): Promise<void> {
    this.#stats.flooders += count;
    const opening: Promise<void>[] = [];
    for (let i = 0; i < count; i++) opening.push(this.#flooder());
    await Promise.all(opening);
  }

  stats(): HostileStats {
    return { ...this.#stats };
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const s of this.#sockets) s.destroy();
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  #open(onConnect: (s: net.Socket) => void): net.Socket {
    const socket = net.connect({ host: '127.0.0.1', port: this.#t.port }, () => onConnect(socket));
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.#sockets.delete(socket));
    return socket;
  }

  /** Sends its request, never reads; replaced by a fresh one after stalledLifetimeMs. */
  #stalled(ws: boolean): Promise<void> {
    const t = this.#t;
    this.#stats.stalledOpened++;
    return new Promise((resolve) => {
      const request = ws
        ? upgradeRequest(t.port, t.historyWsPath)
        : `GET ${t.historyDownloadPath} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n`;
      const socket = this.#open((s) => {
        s.pause();
        s.write(request, () => resolve());
      });
      socket.pause();
      socket.once('close', () => resolve());
      this.#later(t.stalledLifetimeMs, () => {
        socket.destroy();
        void this.#stalled(ws);
      });
    });
  }

  /** Connects to the live media, then floods frames until the relay closes it; reconnects. */
  #flooder(): Promise<void> {
    return new Promise((resolve) => {
      let flooding = false;
      let closedByRelay = false;
      const frames = new WsFrameReader({
        onBlock: () => {},
        onPing: () => {},
        onText: () => {},
        onClose: () => (closedByRelay = true),
      });
      const socket = this.#open((s) => s.write(upgradeRequest(this.#t.port, this.#t.liveWsPath)));
      // The response head so far, until its blank line (the first frames may share its chunk).
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        if (flooding) return frames.push(chunk, 0, chunk.length);
        head += chunk.toString('latin1');
        const headEnd = head.indexOf('\r\n\r\n');
        // Refused: any status but 101, or no end of the head in 4 KiB (a chunk holding the head
        // and frames after it may be longer: the frames are not part of the head).
        const notUpgraded = !'HTTP/1.1 101'.startsWith(head.slice(0, 12));
        if (notUpgraded || (headEnd < 0 && head.length > 4096)) {
          this.#stats.floodersRefused++;
          socket.destroy();
          return;
        }
        if (headEnd < 0) return;
        flooding = true;
        const rest = Buffer.from(head.slice(headEnd + 4), 'latin1');
        frames.push(rest, 0, rest.length);
        resolve();
        const burst = () => {
          if (socket.destroyed || this.#closed || closedByRelay) return;
          // A relay that stopped reading must not make the generator queue without bound.
          if (socket.writableLength > 64 * 1024) return this.#later(BURST_EVERY_MS, burst);
          for (let i = 0; i < BURST_FRAMES; i++) {
            this.#stats.framesSent++;
            if (!socket.write(this.#frame)) break;
          }
          this.#later(BURST_EVERY_MS, burst);
        };
        burst();
      });
      socket.once('close', () => {
        resolve();
        if (this.#closed) return;
        if (flooding) this.#stats.floodersClosed++;
        this.#later(RECONNECT_MS, () => void this.#flooder());
      });
    });
  }
}

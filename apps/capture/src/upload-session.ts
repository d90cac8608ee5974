/**
 * UploadSession: moves a growing MSC4016 file to the relay while it is being written, without
 * losing or duplicating a block across connection losses.
 *
 * - Starts with one streaming PUT (docs/protocol.md "Streaming PUT"). Acknowledgements come from
 *   the relay's listen socket: a block the relay fans out is a block it has stored.
 * - On any connection loss it backs off, HEADs the tus offset (always a block boundary), drops
 *   what the relay holds from its buffer and resends the rest with tus PATCH (tus 1.0.0), whose
 *   answers are the acknowledgements from then on.
 * - With other relay nodes of one cluster given (`fallbackClients`, docs/operations.md
 *   "Cluster"), each failed attempt to reach the relay moves on to the next node: any node of a
 *   cluster takes the upload of any media, and its tus HEAD reports what the cluster stored.
 * - Every block stays in a bounded buffer until acknowledged; `send` waits while the buffer is
 *   full, which is the capture's backpressure.
 */
import { ClientError, type ListenSocket, type MediaClient } from '@mxcast/client';
import { concatBytes } from '@mxcast/format';
import { CaptureError, captureErrorFrom } from './capture-error.ts';

export interface UploadSessionOptions {
  client: MediaClient;
  /**
   * Other nodes of the same relay cluster, tried in turn after `client` when a connection is
   * lost and the node does not answer (docs/operations.md "Cluster").
   */
  fallbackClients?: MediaClient[];
  mxc: string;
  /** Byte offset the first entry sent starts at (0 for a new broadcast, the relay's on resume). */
  startOffset: number;
  /** Seq of the first block sent (to ask the listen socket for acks from there). */
  startSeq: number;
  /** Unacknowledged bytes held at most before `send` waits (default 16 MiB). */
  maxBufferedBytes?: number;
  /** Give up when the relay stays unreachable this long (default 120 s). */
  maxOutageMs?: number;
  /** First reconnection delay; doubles up to 5 s (default 250 ms). */
  backoffMs?: number;
  /** Start in tus mode rather than with a streaming PUT (a resumed broadcast). */
  tusOnly?: boolean;
  onAck?: (ack: AckEvent) => void;
  onReconnect?: (info: {
    attempt: number;
    offset: number;
    error: string;
    relay: string;
    /** Acknowledged blocks sent again: the node held less than another one had acknowledged. */
    resent: number;
  }) => void;
  /** The connection to the relay was lost; onReconnect follows when it is back. */
  onOutage?: (info: { error: string }) => void;
}

export interface AckEvent {
  /** The relay holds every byte before this offset. */
  offset: number;
  /** Seq of the last block acknowledged (-1 for the magic alone). */
  seq: number;
  /** Milliseconds from `send` to acknowledgement of that block. */
  lagMs: number;
}

interface Entry {
  /** Block seq, or -1 for the file magic. */
  seq: number;
  offset: number;
  end: number;
  bytes: Uint8Array;
  queuedAt: number;
}

const MAX_PATCH_BYTES = 256 * 1024;
/**
 * Acknowledged bytes kept for a resend (about 2 minutes of `voice`). A relay cluster's node may
 * acknowledge a block (fan it out) a moment before the cluster has it: when that node dies, the
 * next one's tus HEAD reports an offset below the acknowledged one, and the capture resends from
 * there instead of failing (a block the cluster did store is taken as a duplicate).
 */
const RESEND_WINDOW_BYTES = 512 * 1024;

export class UploadSession {
  /** The node uploads go to now: `options.client`, or a fallback after a failover. */
  private client: MediaClient;
  /** Every node, `options.client` first; `client` is one of them. */
  private readonly clients: MediaClient[];
  private readonly mxc: string;
  private readonly options: UploadSessionOptions;
  /** Unacknowledged entries, oldest first. */
  private readonly entries: Entry[] = [];
  /** The newest acknowledged entries, oldest first, up to RESEND_WINDOW_BYTES. */
  private readonly resendable: Entry[] = [];
  private resendableBytes = 0;
  /** Index into `entries` of the first one not yet handed to the current connection. */
  private sendIndex = 0;
  private nextOffset: number;
  private acked: number;
  private bufferedBytes = 0;
  private finishing = false;
  private cancelled = false;
  private fatal: CaptureError | null = null;
  private mode: 'put' | 'tus';
  private wakeSenders: (() => void)[] = [];
  /** Bumped per connection, so a dead PUT body's pending pull never takes an entry. */
  private generation = 0;
  private wakeWriters: (() => void)[] = [];
  private socket: ListenSocket | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private monitorStopped = false;
  private putAbort: AbortController | null = null;
  private done: Promise<void>;
  reconnects = 0;
  /** Acknowledged blocks sent again because a node reported less than was acknowledged. */
  resent = 0;
  readonly ackLagsMs: number[] = [];
  lastAckLagMs = 0;

  constructor(options: UploadSessionOptions) {
    this.options = options;
    this.client = options.client;
    this.clients = [options.client, ...(options.fallbackClients ?? [])];
    this.mxc = options.mxc;
    this.nextOffset = options.startOffset;
    this.acked = options.startOffset;
    this.mode = options.tusOnly ? 'tus' : 'put';
    this.done = this.runLoop();
    // Keep an early failure from surfacing as an unhandled rejection before finish() awaits it.
    this.done.catch(() => {});
  }

  /** Bytes the relay has acknowledged (the whole file before this offset is stored). */
  get ackedOffset(): number {
    return this.acked;
  }

  get unackedBytes(): number {
    return this.bufferedBytes;
  }

  get transport(): 'put' | 'tus' {
    return this.mode;
  }

  /** Base URL of the relay node the upload goes to now. */
  get relayUrl(): string {
    return this.client.baseUrl;
  }

  /** Queues one block (or the magic, seq -1); waits while the buffer is full. */
  async send(seq: number, bytes: Uint8Array): Promise<void> {
    while (this.bufferedBytes >= (this.options.maxBufferedBytes ?? 16 * 2 ** 20)) {
      this.throwIfFailed();
      await new Promise<void>((r) => this.wakeWriters.push(r));
    }
    this.throwIfFailed();
    const entry: Entry = {
      seq,
      offset: this.nextOffset,
      end: this.nextOffset + bytes.length,
      bytes,
      queuedAt: performance.now(),
    };
    this.entries.push(entry);
    this.nextOffset = entry.end;
    this.bufferedBytes += bytes.length;
    this.wake();
  }

  /** Ends the upload: everything queued is sent and the media completed. */
  async finish(): Promise<void> {
    this.finishing = true;
    this.wake();
    await this.done;
  }

  /** Cancels: stops sending and tells the relay (DELETE); listeners' streams end without EOS. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.fatal ??= new CaptureError('CANCELLED', 'cancelled');
    this.putAbort?.abort();
    this.stopAckMonitor();
    this.wake();
    await this.client.deleteMedia(this.mxc);
  }

  private throwIfFailed(): void {
    if (this.fatal) throw this.fatal;
  }

  private wake(): void {
    const senders = this.wakeSenders;
    this.wakeSenders = [];
    for (const s of senders) s();
    const writers = this.wakeWriters;
    this.wakeWriters = [];
    for (const w of writers) w();
  }

  private async waitForWork(): Promise<void> {
    if (this.sendIndex < this.entries.length || this.finishing || this.fatal) return;
    await new Promise<void>((r) => this.wakeSenders.push(r));
  }

  // ---- acknowledgements ---------------------------------------------------------------------

  /** The relay holds everything before `offset`: drop those entries from the buffer. */
  private ackTo(offset: number): void {
    if (offset <= this.acked) return;
    let last: Entry | undefined;
    let removed = 0;
    while (this.entries.length > 0 && (this.entries[0] as Entry).end <= offset) {
      last = this.entries.shift() as Entry;
      this.bufferedBytes -= last.bytes.length;
      removed++;
      this.resendable.push(last);
      this.resendableBytes += last.bytes.length;
    }
    while (this.resendableBytes > RESEND_WINDOW_BYTES && this.resendable.length > 0)
      this.resendableBytes -= (this.resendable.shift() as Entry).bytes.length;
    this.sendIndex = Math.max(0, this.sendIndex - removed);
    this.acked = last ? last.end : offset;
    if (last) {
      const lag = performance.now() - last.queuedAt;
      this.lastAckLagMs = lag;
      // Kept for the summary and the benchmark; bounded so a day-long broadcast stays small.
      if (this.ackLagsMs.length >= 100_000) this.ackLagsMs.splice(0, 50_000);
      this.ackLagsMs.push(lag);
      this.options.onAck?.({ offset: this.acked, seq: last.seq, lagMs: lag });
    }
    this.wake();
  }

  /**
   * Asks the relay what it stored (tus HEAD) and acknowledges up to there. After a refusal (a
   * full relay, say) the acknowledgement socket may not have reported blocks the relay kept
   * before it refused: they count, so the listen link still goes out. A failed HEAD changes
   * nothing.
   */
  async settleAcks(): Promise<void> {
    try {
      // Bounded: a relay that stopped answering must not hold up the capture's exit.
      const { offset } = await this.client.tusOffset(this.mxc, {
        signal: AbortSignal.timeout(2000),
      });
      this.ackTo(offset);
    } catch {
      // the relay is gone too: what the socket reported is all that is known
    }
  }

  private ackSeq(seq: number): void {
    const e = this.entries.find((x) => x.seq === seq);
    if (e) this.ackTo(e.end);
  }

  private async startAckMonitor(): Promise<void> {
    let socket: ListenSocket;
    try {
      // ack: as the owner, so the relay leaves this socket out of the listener count.
      socket = await this.client.listenSocket(this.mxc, { from: this.options.startSeq, ack: true });
    } catch {
      if (this.mode === 'put' && !this.cancelled) this.startPolling();
      return;
    }
    // The upload may have moved on to tus (or ended) while the socket was opening.
    if (this.mode !== 'put' || this.cancelled || this.monitorStopped) {
      socket.close();
      return;
    }
    this.socket = socket;
    void (async () => {
      try {
        for await (const ev of socket) {
          if (ev.type === 'block' && ev.bytes.length >= 8) {
            // Block header: reg(4) seq(4) … big-endian (docs/format.md "The container").
            const view = new DataView(ev.bytes.buffer, ev.bytes.byteOffset, 8);
            this.ackSeq(view.getUint32(4));
          } else if (ev.type === 'skipped') {
            this.ackSeq(ev.to_seq - 1);
          }
        }
      } catch {
        // The socket dropped with the connection; HEAD after reconnecting tells the truth.
      }
      if (this.socket === socket && this.mode === 'put' && !this.finishing) this.startPolling();
    })();
  }

  /** Without a listen socket, HEAD the tus offset a few times a second. */
  private startPolling(): void {
    if (this.pollTimer || this.cancelled || this.monitorStopped) return;
    this.pollTimer = setInterval(() => {
      this.client.tusOffset(this.mxc).then(
        (o) => this.ackTo(o.offset),
        () => {},
      );
    }, 200);
  }

  private stopAckMonitor(): void {
    this.monitorStopped = true;
    this.socket?.close();
    this.socket = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  // ---- transports -----------------------------------------------------------------------------

  private async runLoop(): Promise<void> {
    try {
      if (this.mode === 'put') {
        // Not awaited: the upload must not wait for the socket (loading `ws`, a slow upgrade);
        // it asks `from=<first seq>`, so it replays whatever was stored before it joined.
        void this.startAckMonitor();
        try {
          await this.runPut();
          return;
        } catch (err) {
          if (!this.isRetryable(err)) throw err;
          this.generation++;
          this.stopAckMonitor();
          this.mode = 'tus';
          await this.recover(err);
        }
      } else {
        await this.recover(null);
      }
      while (true) {
        try {
          await this.runTus();
          return;
        } catch (err) {
          if (!this.isRetryable(err)) throw err;
          await this.recover(err);
        }
      }
    } catch (err) {
      this.fatal ??= captureErrorFrom(err, this.client.baseUrl);
      this.wake();
      throw this.fatal;
    } finally {
      this.stopAckMonitor();
    }
  }

  private isRetryable(err: unknown): boolean {
    if (this.cancelled) return false;
    return err instanceof ClientError && (err.retryable || err.code === 'M_CONFLICT');
  }

  private async runPut(): Promise<void> {
    const start = this.entries[0]?.offset ?? this.nextOffset;
    this.sendIndex = 0;
    this.putAbort = new AbortController();
    const generation = ++this.generation;
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        // Wake-ups also come from acknowledgements: loop until there is an entry to hand over
        // or the end, since a pull that returns with nothing enqueued is never called again.
        while (true) {
          await this.waitForWork();
          if (generation !== this.generation) return;
          if (this.fatal) {
            controller.error(this.fatal);
            return;
          }
          const e = this.entries[this.sendIndex];
          if (e) {
            this.sendIndex++;
            controller.enqueue(e.bytes);
            return;
          }
          if (this.finishing) {
            controller.close();
            return;
          }
        }
      },
    });
    await this.client.uploadStream(this.mxc, body, {
      signal: this.putAbort.signal,
      ...(start > 0 ? { contentRangeStart: start } : {}),
    });
    // A clean 200 means the relay stored and completed everything sent.
    this.ackTo(this.nextOffset);
  }

  /** After a connection loss: back off, HEAD the offset, drop what the relay holds. */
  private async recover(cause: unknown): Promise<void> {
    const started = performance.now();
    let delay = this.options.backoffMs ?? 250;
    let attempt = 0;
    let lastError = cause ? (cause as Error).message : '';
    if (cause) this.options.onOutage?.({ error: lastError });
    while (true) {
      if (this.cancelled) throw this.fatal;
      if (cause || attempt > 0) {
        if (performance.now() - started > (this.options.maxOutageMs ?? 120_000)) {
          throw new CaptureError(
            'NETWORK',
            `relay unreachable for ${Math.round((performance.now() - started) / 1000)} s, giving up (${lastError}); resume with --resume`,
          );
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
      attempt++;
      try {
        const { offset } = await this.client.tusOffset(this.mxc);
        if (cause) this.reconnects++;
        const resentBefore = this.resent;
        this.resumeFrom(offset);
        const resent = this.resent - resentBefore;
        this.options.onReconnect?.({
          attempt,
          offset,
          error: lastError,
          relay: this.relayUrl,
          resent,
        });
        return;
      } catch (err) {
        if (!this.isRetryable(err)) throw err;
        lastError = (err as Error).message;
        // A node that does not answer may be dead: the next attempt goes to the next one.
        this.client = nextOf(this.clients, this.client);
      }
    }
  }

  private resumeFrom(offset: number): void {
    if (offset < this.acked) this.takeBack(offset);
    if (offset > this.nextOffset) {
      throw new CaptureError(
        'RELAY_ERROR',
        `relay holds ${offset} bytes but only ${this.nextOffset} were sent`,
      );
    }
    this.ackTo(offset);
    const first = this.entries[0];
    if (first && first.offset !== offset) {
      throw new CaptureError(
        'RELAY_ERROR',
        `relay offset ${offset} is not the start of an unacknowledged block (buffer starts at ${first.offset})`,
      );
    }
    if (!first && offset !== this.nextOffset) {
      throw new CaptureError('RELAY_ERROR', `relay offset ${offset} != sent ${this.nextOffset}`);
    }
    this.sendIndex = 0;
  }

  /**
   * The relay (another node of a cluster) holds less than was acknowledged: put the acknowledged
   * entries from `offset` on back in front of the buffer, to be sent again. Only from a block
   * boundary inside the resend window; otherwise resumeFrom's checks refuse the offset.
   */
  private takeBack(offset: number): void {
    const from = this.resendable.findIndex((e) => e.offset === offset);
    if (from < 0) return;
    const back = this.resendable.splice(from);
    for (const e of back) {
      this.resendableBytes -= e.bytes.length;
      this.bufferedBytes += e.bytes.length;
    }
    this.entries.unshift(...back);
    this.acked = offset;
    this.resent += back.length;
  }

  /** tus PATCH loop: sends batches of whole unacknowledged blocks; the answer is the ack. */
  private async runTus(): Promise<void> {
    while (true) {
      await this.waitForWork();
      this.throwIfFailed();
      const batch: Entry[] = [];
      let size = 0;
      for (let i = this.sendIndex; i < this.entries.length; i++) {
        const e = this.entries[i] as Entry;
        if (batch.length > 0 && size + e.bytes.length > MAX_PATCH_BYTES) break;
        batch.push(e);
        size += e.bytes.length;
      }
      const final = this.finishing && this.sendIndex + batch.length === this.entries.length;
      if (batch.length === 0 && !final) continue;
      const offset = batch[0]?.offset ?? this.nextOffset;
      const bytes = concatBytes(
        batch.map((e) => e.bytes),
        size,
      );
      this.sendIndex += batch.length;
      const next = await this.client.tusPatch(this.mxc, offset, bytes, {
        ...(final ? { uploadLength: this.nextOffset } : {}),
      });
      if (next !== offset + size) {
        // The relay kept less (or more) than we sent: ask it again where it stands.
        throw new ClientError(
          'M_CONFLICT',
          `tus patch: offset ${next} after sending ${offset}+${size}`,
          409,
        );
      }
      this.ackTo(next);
      if (final && this.acked === this.nextOffset) return;
    }
  }
}

/** The element after `current` in `list`, wrapping around (itself for a list of one). */
function nextOf<T>(list: readonly T[], current: T): T {
  return list[(list.indexOf(current) + 1) % list.length] as T;
}

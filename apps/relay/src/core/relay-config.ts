/**
 * The relay's configuration: where it listens and stores, and every limit, each with a
 * default. `--config FILE` (JSON, validated in config-file.ts) overrides any subset:
 * `{"limits": {...}, "auth": {...}}`. docs/operations.md lists the keys.
 */
import { DEFAULT_SLICE_SIZE } from '../fanout/media-hub.ts';
import { SILENT_LOGGER, type RelayLogger } from './relay-log.ts';

export interface RelayLimits {
  /** Largest stored media, bytes (M_TOO_LARGE past it). */
  maxMediaBytes: number;
  /** Largest block ciphertext length the framer accepts (M_TOO_LARGE past it). */
  maxBlockLength: number;
  /** Longest time a media may stay live, from its first byte, ms (M_LIMIT_EXCEEDED). */
  maxLiveDurationMs: number;
  /** Upload connections open at once per user (M_LIMIT_EXCEEDED). */
  maxLiveUploadsPerUser: number;
  /** Ids from /create not yet used (and not expired) per user (M_LIMIT_EXCEEDED at create). */
  maxPendingMediaPerUser: number;
  /** Media live at once per user (M_LIMIT_EXCEEDED at a media's first byte). */
  maxLiveMediaPerUser: number;
  /** Media stored per user: live, complete or cancelled, until deleted (M_LIMIT_EXCEEDED). */
  maxStoredMediaPerUser: number;
  /** Bytes stored per user over all their media (M_TOO_LARGE; the blocks that fit are kept). */
  maxStoredBytesPerUser: number;
  /** Listeners (WebSocket + HTTP downloads) per media (M_LIMIT_EXCEEDED). */
  maxListenersPerStream: number;
  /** Listeners on the whole relay (M_LIMIT_EXCEEDED). */
  maxListeners: number;
  /** Largest JSON request body (create, tus POST), bytes (413 M_TOO_LARGE). */
  maxJsonBodyBytes: number;
  /** A JSON request body must arrive whole within this, ms (408; uploads have uploadIdleTimeoutMs). */
  requestTimeoutMs: number;
  /** Request headers must arrive whole within this, ms (node's headersTimeout: 408, closed). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection between requests is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /**
   * A connection with no traffic for this long is closed, ms — unless an answer is in progress
   * with nothing queued to the peer (a quiet live download waits for the next block; TCP
   * keepalive finds dead peers there). WebSockets are exempt: listeners get a status every
   * statusIntervalMs, uploads have uploadIdleTimeoutMs.
   */
  idleTimeoutMs: number;
  /** Open connections on the relay (HTTP and WebSocket): more are answered 503 and closed. */
  maxConnections: number;
  /** Open connections from one remote address: more are answered 429 and closed. */
  maxConnectionsPerAddress: number;
  /** Largest frame a WebSocket listener may send, bytes (close 1009 from the frame header); 125 = a control frame's most. */
  listenerMaxMessageBytes: number;
  /** Control frames (ping/pong) per second a WebSocket listener may send (close 1008 past it; any data message closes it at once). */
  listenerMessagesPerSecond: number;
  /**
   * How long a WebSocket listener closed for what it sent (1008/1009) is held, unread, before its
   * connection is destroyed, ms: at least this long and at most twice (drawn per connection), and
   * never past ws's own close timeout (30 s). It still counts against maxConnectionsPerAddress
   * meanwhile, so one address cycles at most maxConnectionsPerAddress / this many such connections
   * a second.
   */
  listenerCloseGraceMs: number;
  /** Bytes a listener may have queued in its socket before it is moved to the live edge (WS) or cut (HTTP). */
  listenerBacklogBytes: number;
  /**
   * Bytes the kernel may hold unsent for one connection (TCP_NOTSENT_LOWAT on each accepted socket;
   * 0: the host's net.ipv4.tcp_notsent_lowat): what a peer that never reads takes before node sees
   * backpressure (adapter/socket-unsent-limit.ts).
   */
  socketUnsentBytes: number;
  /** How long an id from /create stays usable with no upload, ms. */
  unusedExpiryMs: number;
  /** Longest `timeout_ms` honoured on a download of media not yet uploaded, ms. */
  maxDownloadWaitMs: number;
  /**
   * Longest hold of an HLS blocking playlist reload (`_HLS_msn`/`_HLS_part`, RFC 8216bis
   * §6.2.5.2) waiting for its part, ms; then the current playlist is answered.
   */
  hlsBlockingReloadMs: number;
  /**
   * An upload connection that brings no byte for this long is closed (the media stays live and
   * resumable): a live broadcast sends continuously, and a half-open connection would otherwise
   * hold its upload slot for as long as TCP takes to notice, which can be forever.
   */
  uploadIdleTimeoutMs: number;
  /**
   * Bytes a history reader (WebSocket `from=<seq>`, HTTP download of stored bytes) reads from the
   * file at a time; it reads no more until its socket has taken them: the per-reader bound.
   */
  historyReadBytes: number;
  /**
   * Bytes all history readers together may hold read but not yet taken by their sockets; past it
   * readers wait (they do not read the file) until some is given back. The live path is not counted.
   */
  historyBudgetBytes: number;
  /**
   * Bytes per second all history readers together may read, a token bucket (0: no rate): bounds
   * the event loop's share of history however many readers come, live listeners first.
   */
  historyBytesPerSecond: number;
  /**
   * Bytes of history reads kept for other readers of the same bytes (0: only reads under way are
   * shared): many readers of one media from one place cost one file read and one buffer.
   */
  historyCacheBytes: number;
  /**
   * A listener whose socket takes nothing for this long while the relay has bytes for it is cut,
   * ms: a history reader whose last read was not taken, a WebSocket listener at the live edge that
   * stays past its backlog (skipping) all that time.
   */
  listenerStallMs: number;
  /** Homeserver mode: how long a whoami answer is trusted, ms (0: ask on every request). */
  whoamiCacheTtlMs: number;
  /** Homeserver mode: tokens cached at most (the oldest entry goes first). */
  whoamiCacheMaxEntries: number;
  /** Homeserver mode: a whoami must be answered within this, ms (502 HOMESERVER_UNAVAILABLE). */
  homeserverTimeoutMs: number;
  /** Homeserver mode: whoami requests under way at once; more are refused (503 HOMESERVER_BUSY). */
  maxWhoamiInFlight: number;
  /** A live media whose upload sent no block for this long is marked interrupted, ms. */
  interruptedAfterMs: number;
  /** A live media whose upload sent no block for this long is ended (completed as stored), ms. */
  maxIdleLiveMs: number;
}

export interface RelayAuthConfig {
  /** Require an access token for downloads, the index, HLS and WebSocket listening. */
  requireTokenForDownload: boolean;
  /**
   * Homeserver mode: the homeserver's client-server API base URL. Tokens are Matrix access tokens
   * checked with whoami (core/homeserver-auth.ts), downloads always need one (Matrix 1.11
   * authenticated media), and relay.db's own tokens are not used.
   */
  homeserver?: string;
}

/**
 * Cluster mode (docs/architecture.md "Storage contract and JetStream mapping"): media, states and
 * standalone tokens live in NATS JetStream, so any node serves any media.
 */
export interface RelayClusterConfig {
  /** `nats://HOST:PORT` of the NATS servers (any subset: the client learns the rest). */
  servers: string[];
  /** Raft replicas of the stream and buckets; default min(3, servers given). */
  replicas?: number;
}

export interface RelayConfig {
  /** Directory holding relay.db and media/ (created if missing). */
  dataDir: string;
  /** Cluster mode's NATS servers, or null: embedded (SQLite + files in dataDir). */
  cluster: RelayClusterConfig | null;
  /** The `{serverName}` in mxc URIs. */
  serverName: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Base URL printed and used in Location headers; defaults to http://host:port. */
  publicUrl?: string;
  /** Group flush (fsync) interval for appended bytes, ms (at most 100 ms). */
  flushIntervalMs: number;
  /** Serve this directory at `/` (the built web app), SPA-style: unknown paths → index.html. */
  webRoot?: string;
  /** Interval of the JSON status message to WebSocket listeners, ms. */
  statusIntervalMs: number;
  /**
   * Listeners a live fan-out writes per event-loop turn before it lets accepts and upload reads
   * run (fanout/media-hub.ts); default 512, about 5 ms of writes.
   */
  fanoutSliceSize: number;
  limits: RelayLimits;
  auth: RelayAuthConfig;
  /**
   * The structured operational log (relay-log.ts): a line per request (adapter) and per event.
   * Silent unless given.
   */
  logger: RelayLogger;
  /**
   * Free-text notices from storage (recovery, damage, orphans). Given, it receives the bare
   * lines (tests read them); else they go to `logger` (error for damage and internal errors,
   * warn for the rest).
   */
  log: (line: string) => void;
}

export type RelayOptions = Partial<Omit<RelayConfig, 'limits' | 'auth' | 'log'>> & {
  log?: (line: string) => void;
  dataDir: string;
  limits?: Partial<RelayLimits>;
  auth?: Partial<RelayAuthConfig>;
};

export const DEFAULT_LIMITS: RelayLimits = {
  maxMediaBytes: 2 * 1024 ** 3,
  maxBlockLength: 64 * 1024,
  maxLiveDurationMs: 24 * 3600_000,
  maxLiveUploadsPerUser: 4,
  maxPendingMediaPerUser: 100,
  maxLiveMediaPerUser: 10,
  maxStoredMediaPerUser: 10_000,
  maxStoredBytesPerUser: 20 * 1024 ** 3,
  maxListenersPerStream: 20_000,
  maxListeners: 50_000,
  maxJsonBodyBytes: 64 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 20_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxConnections: 60_000,
  maxConnectionsPerAddress: 16_384,
  listenerMaxMessageBytes: 125,
  listenerMessagesPerSecond: 20,
  listenerCloseGraceMs: 15_000,
  listenerBacklogBytes: 256 * 1024,
  socketUnsentBytes: 128 * 1024,
  unusedExpiryMs: 24 * 3600_000,
  maxDownloadWaitMs: 5 * 60_000,
  hlsBlockingReloadMs: 6000,
  uploadIdleTimeoutMs: 60_000,
  historyReadBytes: 64 * 1024,
  historyBudgetBytes: 64 * 1024 ** 2,
  historyBytesPerSecond: 64 * 1024 ** 2,
  historyCacheBytes: 8 * 1024 ** 2,
  whoamiCacheTtlMs: 60_000,
  whoamiCacheMaxEntries: 10_000,
  homeserverTimeoutMs: 5_000,
  maxWhoamiInFlight: 64,
  interruptedAfterMs: 10_000,
  maxIdleLiveMs: 10 * 60_000,
  listenerStallMs: 30_000,
};

export function resolveConfig(options: RelayOptions): RelayConfig {
  const logger = options.logger ?? SILENT_LOGGER;
  return {
    dataDir: options.dataDir,
    cluster: options.cluster ?? null,
    serverName: options.serverName ?? 'localhost',
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8008,
    publicUrl: options.publicUrl,
    flushIntervalMs: options.flushIntervalMs ?? 100,
    webRoot: options.webRoot,
    statusIntervalMs: options.statusIntervalMs ?? 5000,
    fanoutSliceSize: options.fanoutSliceSize ?? DEFAULT_SLICE_SIZE,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    auth: { requireTokenForDownload: false, ...options.auth },
    logger,
    log:
      options.log ??
      ((line) =>
        logger.log(/^internal error|damaged/.test(line) ? 'error' : 'warn', 'notice', {
          msg: line,
        })),
  };
}

/**
 * Counters for `/metrics`, rendered in the Prometheus text exposition format (version 0.0.4).
 * Gauges (live streams, listeners) are read from the store when rendered.
 */
export interface MetricGauges {
  liveStreams: number;
  wsListeners: number;
  httpListeners: number;
  activeUploads: number;
  queuedBytes: number;
}

export class RelayMetrics {
  bytesIn = 0;
  bytesOut = 0;
  blocksIn = 0;
  mediaCreated = 0;
  mediaCompleted = 0;
  /** Media found damaged (file shorter, longer, missing or sha256 mismatch). */
  mediaDamaged = 0;
  listenersMoved = 0;
  listenersDropped = 0;
  /** Listeners cut after limits.listenerStallMs without progress (history, or live skipping). */
  listenersStalled = 0;
  /** Bytes reserved by history readers now, and readers waiting for the budget (set by the adapter). */
  historyBudget: () => { inUse: number; waiting: number } = () => ({ inUse: 0, waiting: 0 });
  /** History reads answered from the shared read cache or a read under way, reads of the file, bytes kept. */
  historyCache: () => { hits: number; misses: number; bytes: number } = () => ({
    hits: 0,
    misses: 0,
    bytes: 0,
  });
  /** Connections open now (set by the Node adapter, docs/operations.md "Limits"). */
  connectionsOpen = 0;
  /** Connections refused at accept, by the limit they hit. */
  connectionsRefused = { maxConnections: 0, maxConnectionsPerAddress: 0 };
  /** WebSocket listeners closed for what they sent: a message too large (1009) or too many (1008). */
  listenerInboundRefused = { size: 0, rate: 0, data: 0 };
  /** Refused listeners held unread in closing state now (limits.listenerCloseGraceMs). */
  listenersClosing = 0;
  /** Homeserver mode's token checks (core/homeserver-auth.ts): whoami sent, answered from the cache, failed upstream. */
  whoami = { requests: 0, cached: 0, failed: 0 };
  /** Live media marked interrupted (upload silent past limits.interruptedAfterMs), and ended after limits.maxIdleLiveMs. */
  liveIdle = { interrupted: 0, ended: 0 };
  /** HLS blocking playlist reloads held now, and those answered at limits.hlsBlockingReloadMs. */
  hlsBlockingReloads = { held: 0, timedOut: 0 };
  readonly errors = new Map<string, number>();

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Requests refused by a per-user quota, by the limit's name (core/user-quotas.ts). */
  readonly quotaRefusals = new Map<string, number>();

  countQuotaRefusal(limit: string): void {
    this.quotaRefusals.set(limit, (this.quotaRefusals.get(limit) ?? 0) + 1);
  }

  /** Media records held in memory now (set by the media store): pending ids unused are not. */
  mediaInMemory: () => number = () => 0;

  render(g: MetricGauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    // Most series are one unlabelled sample; the rest split one count by one label.
    const single = (name: string, type: string, help: string, v: number) =>
      metric(name, type, help, [['', v]]);
    const byLabel = (
      name: string,
      help: string,
      label: string,
      counts: Iterable<[string, number]>,
    ) =>
      metric(
        name,
        'counter',
        help,
        [...counts].map(([k, n]) => [`{${label}="${k}"}`, n]),
      );
    single('mxcast_live_streams', 'gauge', 'Media in state live.', g.liveStreams);
    single('mxcast_uploads_active', 'gauge', 'Upload connections open.', g.activeUploads);
    metric('mxcast_listeners', 'gauge', 'Listeners connected.', [
      ['{transport="ws"}', g.wsListeners],
      ['{transport="http"}', g.httpListeners],
    ]);
    const queuedHelp = "Bytes queued in WebSocket listeners' sockets.";
    single('mxcast_listener_queued_bytes', 'gauge', queuedHelp, g.queuedBytes);
    const counters: [string, string, number][] = [
      ['mxcast_bytes_in_total', 'Media bytes stored from uploads.', this.bytesIn],
      ['mxcast_bytes_out_total', 'Media bytes queued to listeners.', this.bytesOut],
      ['mxcast_blocks_in_total', 'Blocks stored from uploads.', this.blocksIn],
      ['mxcast_media_created_total', 'Media ids created.', this.mediaCreated],
      ['mxcast_media_completed_total', 'Media completed.', this.mediaCompleted],
      ['mxcast_media_damaged_total', 'Media found damaged on disk.', this.mediaDamaged],
    ];
    for (const [name, help, v] of counters) single(name, 'counter', help, v);
    byLabel(
      'mxcast_slow_listeners_total',
      'Listeners past a bound: live backlog (moved, dropped), history without progress (stalled).',
      'action',
      [
        ['moved', this.listenersMoved],
        ['dropped', this.listenersDropped],
        ['stalled', this.listenersStalled],
      ],
    );
    const history = this.historyBudget();
    single(
      'mxcast_history_budget_bytes',
      'gauge',
      'Bytes read for history readers and not yet taken by their sockets (limits.historyBudgetBytes).',
      history.inUse,
    );
    const waitingHelp = 'History readers waiting for the history budget.';
    single('mxcast_history_waiting', 'gauge', waitingHelp, history.waiting);
    const cache = this.historyCache();
    byLabel(
      'mxcast_history_reads_total',
      'History reads: shared (another reader read the same bytes) or from the file.',
      'source',
      [
        ['shared', cache.hits],
        ['file', cache.misses],
      ],
    );
    const cacheHelp = 'Bytes of history reads kept for other readers (limits.historyCacheBytes).';
    single('mxcast_history_cache_bytes', 'gauge', cacheHelp, cache.bytes);
    const inMemoryHelp = 'Media records held in memory.';
    single('mxcast_media_in_memory', 'gauge', inMemoryHelp, this.mediaInMemory());
    byLabel(
      'mxcast_quota_refusals_total',
      'Requests refused by a per-user quota, by limit.',
      'limit',
      [...this.quotaRefusals].sort(),
    );
    single('mxcast_connections_open', 'gauge', 'Client connections open.', this.connectionsOpen);
    const closingHelp = 'Refused WebSocket listeners held unread (limits.listenerCloseGraceMs).';
    single('mxcast_listeners_closing', 'gauge', closingHelp, this.listenersClosing);
    const heldHelp = 'HLS blocking playlist reloads held now (_HLS_msn/_HLS_part).';
    single('mxcast_hls_reloads_held', 'gauge', heldHelp, this.hlsBlockingReloads.held);
    const timedOutHelp = 'HLS blocking playlist reloads answered at limits.hlsBlockingReloadMs.';
    const { timedOut } = this.hlsBlockingReloads;
    single('mxcast_hls_reload_timeouts_total', 'counter', timedOutHelp, timedOut);
    const splitHelp = {
      connections: 'Connections refused at accept, by the limit hit.',
      messages:
        'WebSocket listeners closed for a message too large (size) or too many messages (rate).',
      whoami:
        'Homeserver mode token checks: whoami sent, answered from the cache, failed upstream (502).',
      liveIdle:
        'Live media whose upload went silent: marked interrupted, ended after the max idle time.',
    };
    const refused = Object.entries(this.connectionsRefused);
    byLabel('mxcast_connections_refused_total', splitHelp.connections, 'limit', refused);
    const inbound = Object.entries(this.listenerInboundRefused);
    byLabel('mxcast_listener_messages_refused_total', splitHelp.messages, 'reason', inbound);
    byLabel('mxcast_whoami_total', splitHelp.whoami, 'result', Object.entries(this.whoami));
    byLabel('mxcast_live_idle_total', splitHelp.liveIdle, 'action', Object.entries(this.liveIdle));
    const errorsHelp = 'Errors answered, by Matrix errcode.';
    byLabel('mxcast_errors_total', errorsHelp, 'errcode', [...this.errors].sort());
    return lines.join('\n') + '\n';
  }
}

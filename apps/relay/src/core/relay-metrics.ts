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
  /** Connections open now (set by the Node adapter, docs/operations.md "Limits"). */
  connectionsOpen = 0;
  /** Connections refused at accept, by the limit they hit. */
  connectionsRefused = { maxConnections: 0, maxConnectionsPerAddress: 0 };
  /** WebSocket listeners closed for what they sent: a message too large (1009) or too many (1008). */
  listenerInboundRefused = { size: 0, rate: 0 };
  /** Homeserver mode's token checks (core/homeserver-auth.ts): whoami sent, answered from the cache, failed upstream. */
  whoami = { requests: 0, cached: 0, failed: 0 };
  /** Live media marked interrupted (upload silent past limits.interruptedAfterMs), and ended after limits.maxIdleLiveMs. */
  liveIdle = { interrupted: 0, ended: 0 };
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
    metric('mxcast_live_streams', 'gauge', 'Media in state live.', [['', g.liveStreams]]);
    metric('mxcast_uploads_active', 'gauge', 'Upload connections open.', [['', g.activeUploads]]);
    metric('mxcast_listeners', 'gauge', 'Listeners connected.', [
      ['{transport="ws"}', g.wsListeners],
      ['{transport="http"}', g.httpListeners],
    ]);
    metric(
      'mxcast_listener_queued_bytes',
      'gauge',
      "Bytes queued in WebSocket listeners' sockets.",
      [['', g.queuedBytes]],
    );
    metric('mxcast_bytes_in_total', 'counter', 'Media bytes stored from uploads.', [
      ['', this.bytesIn],
    ]);
    metric('mxcast_bytes_out_total', 'counter', 'Media bytes queued to listeners.', [
      ['', this.bytesOut],
    ]);
    metric('mxcast_blocks_in_total', 'counter', 'Blocks stored from uploads.', [
      ['', this.blocksIn],
    ]);
    metric('mxcast_media_created_total', 'counter', 'Media ids created.', [
      ['', this.mediaCreated],
    ]);
    metric('mxcast_media_completed_total', 'counter', 'Media completed.', [
      ['', this.mediaCompleted],
    ]);
    metric('mxcast_media_damaged_total', 'counter', 'Media found damaged on disk.', [
      ['', this.mediaDamaged],
    ]);
    metric(
      'mxcast_slow_listeners_total',
      'counter',
      'Listeners past a bound: live backlog (moved, dropped), history without progress (stalled).',
      [
        ['{action="moved"}', this.listenersMoved],
        ['{action="dropped"}', this.listenersDropped],
        ['{action="stalled"}', this.listenersStalled],
      ],
    );
    const history = this.historyBudget();
    metric(
      'mxcast_history_budget_bytes',
      'gauge',
      'Bytes read for history readers and not yet taken by their sockets (limits.historyBudgetBytes).',
      [['', history.inUse]],
    );
    metric('mxcast_history_waiting', 'gauge', 'History readers waiting for the history budget.', [
      ['', history.waiting],
    ]);
    metric('mxcast_media_in_memory', 'gauge', 'Media records held in memory.', [
      ['', this.mediaInMemory()],
    ]);
    metric(
      'mxcast_quota_refusals_total',
      'counter',
      'Requests refused by a per-user quota, by limit.',
      [...this.quotaRefusals].sort().map(([limit, n]) => [`{limit="${limit}"}`, n]),
    );
    metric('mxcast_connections_open', 'gauge', 'Client connections open.', [
      ['', this.connectionsOpen],
    ]);
    metric(
      'mxcast_connections_refused_total',
      'counter',
      'Connections refused at accept, by the limit hit.',
      Object.entries(this.connectionsRefused).map(([limit, n]) => [`{limit="${limit}"}`, n]),
    );
    metric(
      'mxcast_listener_messages_refused_total',
      'counter',
      'WebSocket listeners closed for a message too large (size) or too many messages (rate).',
      Object.entries(this.listenerInboundRefused).map(([reason, n]) => [`{reason="${reason}"}`, n]),
    );
    metric(
      'mxcast_whoami_total',
      'counter',
      'Homeserver mode token checks: whoami sent, answered from the cache, failed upstream (502).',
      Object.entries(this.whoami).map(([result, n]) => [`{result="${result}"}`, n]),
    );
    metric(
      'mxcast_live_idle_total',
      'counter',
      'Live media whose upload went silent: marked interrupted, ended after the max idle time.',
      Object.entries(this.liveIdle).map(([action, n]) => [`{action="${action}"}`, n]),
    );
    metric(
      'mxcast_errors_total',
      'counter',
      'Errors answered, by Matrix errcode.',
      [...this.errors].sort().map(([code, n]) => [`{errcode="${code}"}`, n]),
    );
    return lines.join('\n') + '\n';
  }
}

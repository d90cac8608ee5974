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
  readonly errors = new Map<string, number>();

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

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
      'Listeners that fell past their backlog bound.',
      [
        ['{action="moved"}', this.listenersMoved],
        ['{action="dropped"}', this.listenersDropped],
      ],
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

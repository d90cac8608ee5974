/**
 * What the capture tells the broadcaster on stderr while live: elapsed (audio) time, blocks,
 * bytes, how far the relay's acknowledgements lag, reconnects; a progress bar when a file is
 * read faster than real time; and the closing summary.
 */
export interface CaptureStats {
  /** Seconds of audio captured so far. */
  audioSeconds: number;
  /** Wall-clock seconds since the capture started. */
  wallSeconds: number;
  blocks: number;
  /** Bytes on the wire (magic, headers, ciphertext, tags). */
  bytes: number;
  /** Opus payload bytes. */
  opusBytes: number;
  /** Bytes the relay has acknowledged. */
  ackedBytes: number;
  /** Latest acknowledgement lag, ms. */
  ackLagMs: number;
  reconnects: number;
  transport: 'put' | 'tus';
  /** 0…1 for finite non-realtime input, else null. */
  progress: number | null;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = sec.toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function bar(progress: number, width = 20): string {
  const full = Math.round(Math.min(1, Math.max(0, progress)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(progress * 100).toFixed(0).padStart(3)}%`;
}

export function formatStatus(s: CaptureStats): string {
  const parts = [
    `live ${formatDuration(s.audioSeconds)}`,
    `${s.blocks} blocks`,
    formatBytes(s.bytes),
    `ack lag ${Math.round(s.ackLagMs)} ms`,
    `unacked ${formatBytes(Math.max(0, s.bytes - s.ackedBytes))}`,
    `reconnects ${s.reconnects}`,
  ];
  if (s.transport === 'tus') parts.push('via tus');
  const line = parts.join(' | ');
  return s.progress === null ? line : `${bar(s.progress)} ${line}`;
}

export function formatSummary(s: CaptureStats, outcome: string): string {
  const overhead = s.opusBytes > 0 ? ((s.bytes / s.opusBytes - 1) * 100).toFixed(1) : '0';
  return (
    `${outcome}: ${formatDuration(s.audioSeconds)} of audio in ${s.blocks} blocks, ` +
    `${s.bytes} bytes (${formatBytes(s.bytes)}), overhead ${overhead}% over ${s.opusBytes} bytes of Opus, ` +
    `${s.reconnects} reconnects`
  );
}

/**
 * Writes the status line: rewritten in place on a terminal, one line every `intervalMs`
 * otherwise (logs, tests).
 */
export class StatusLine {
  private last = 0;
  private shown = false;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly intervalMs = out.isTTY ? 250 : 5000,
  ) {}

  update(stats: CaptureStats, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const line = formatStatus(stats);
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.shown = true;
    } else {
      this.out.write(line + '\n');
    }
  }

  /** Prints a line above the status (the listen link, a reconnect notice). */
  message(text: string): void {
    if (this.out.isTTY && this.shown) this.out.write('\r\x1b[2K');
    this.out.write(text + '\n');
    this.shown = false;
  }

  done(): void {
    if (this.out.isTTY && this.shown) this.out.write('\n');
    this.shown = false;
  }
}

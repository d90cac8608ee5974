/**
 * The relay's operational log: one line per event, with a level, as text (`key=value`, for a
 * terminal or journald) or JSON (one object per line, for a log pipeline). docs/operations.md
 * "Logging" lists the events and what is never logged.
 *
 * A small logger of our own rather than pino: the relay writes a line per request and a few per
 * event, a volume where pino's speed does not matter; its text format would need pino-pretty, a
 * worker-thread transport pino documents as not for production; and this module stays free of
 * Node (it formats and hands a string to a sink), as the core is. What must never be logged
 * (tokens, keys, listener addresses, titles) is kept out by what the callers pass, not by
 * redaction after the fact: the request line carries the route template, never the path's query.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Values a log line may carry: scalars only, so a line never grows an object graph. */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface RelayLogger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  debug(event: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Receives each finished line, without a newline. */
  write: (line: string) => void;
  /** The clock, for tests. */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function createLogger(options: LoggerOptions): RelayLogger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'text';
  const now = options.now ?? (() => new Date());
  const enabled = (l: LogLevel) => RANK[l] <= RANK[level];
  const log = (l: LogLevel, event: string, fields: LogFields = {}) => {
    if (!enabled(l)) return;
    const time = now().toISOString();
    options.write(
      format === 'json' ? jsonLine(time, l, event, fields) : textLine(time, l, event, fields),
    );
  };
  return {
    level,
    enabled,
    log,
    error: (e, f) => log('error', e, f),
    warn: (e, f) => log('warn', e, f),
    info: (e, f) => log('info', e, f),
    debug: (e, f) => log('debug', e, f),
  };
}

/** A logger that writes nothing (a relay embedded in a test with no sink). */
export const SILENT_LOGGER: RelayLogger = createLogger({ level: 'error', write: () => undefined });

function jsonLine(time: string, level: LogLevel, event: string, fields: LogFields): string {
  const out: Record<string, unknown> = { time, level, event };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return JSON.stringify(out);
}

/** `time level event k=v …`; a value with spaces, quotes or `=` is JSON-quoted (logfmt style). */
function textLine(time: string, level: LogLevel, event: string, fields: LogFields): string {
  let line = `${time} ${level} ${event}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = String(v);
    line += ` ${k}=${/^[^\s"=]+$/.test(s) ? s : JSON.stringify(s)}`;
  }
  return line;
}

/**
 * matrix-js-sdk logs every sync and crypto step at debug level, some of it on stdout through
 * its module loggers (loglevel, named `matrix…`). A broadcaster's or listener's terminal wants
 * warnings and errors only, and stdout must stay free for the CLI's own output: every sdk log
 * line goes to stderr, at `MXCAST_MATRIX_LOG` (trace|debug|info|warn|error, default warn) or above.
 */
import { LoggerLevel, Tracing } from '@matrix-org/matrix-sdk-crypto-wasm';
import loglevel from 'loglevel';
import type { Logger } from 'matrix-js-sdk/lib/logger.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

function threshold(): number {
  const i = LEVELS.indexOf((process.env.MXCAST_MATRIX_LOG ?? 'warn') as Level);
  return i < 0 ? LEVELS.indexOf('warn') : i;
}

const noop = (): void => {};

/** A loglevel method factory: below the threshold nothing, otherwise stderr with the name. */
const methodFactory: loglevel.MethodFactory = (method, _level, loggerName) => {
  if (LEVELS.indexOf(method as Level) < threshold()) return noop;
  const name = typeof loggerName === 'string' ? loggerName : String(loggerName ?? 'matrix');
  return (...args: unknown[]) => console.error(`[${name} ${method}]`, ...args);
};

const TRACING_LEVELS = [
  LoggerLevel.Trace,
  LoggerLevel.Debug,
  LoggerLevel.Info,
  LoggerLevel.Warn,
  LoggerLevel.Error,
];

/**
 * The Rust crypto's own tracing (on at Debug, on stdout, once initRustCrypto ran) down to the
 * same threshold. Call after initRustCrypto: the WebAssembly module must be loaded.
 */
export function quietRustCryptoLogs(): void {
  new Tracing(TRACING_LEVELS[threshold()] ?? LoggerLevel.Warn).turnOn();
}

/**
 * Runs `f` (initRustCrypto) with console's stdout methods sent to stderr, or dropped below
 * debug: matrix-js-sdk turns the crypto's tracing on at Debug as it loads it, before
 * quietRustCryptoLogs can lower it.
 */
export async function withConsoleOnStderr<T>(f: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  const out =
    threshold() <= LEVELS.indexOf('debug') ? (...a: unknown[]) => console.error(...a) : noop;
  console.log = console.info = console.debug = out;
  try {
    return await f();
  } finally {
    Object.assign(console, saved);
  }
}

/**
 * Applies the factory to the sdk's loggers that exist now and, through the root `matrix`
 * logger (its getChild copies the parent's factory), to those created later.
 */
export function quietMatrixSdkLogs(): void {
  for (const [name, l] of Object.entries(loglevel.getLoggers())) {
    if (!name.startsWith('matrix')) continue;
    l.methodFactory = methodFactory;
    l.rebuild();
  }
}

function make(prefix: string): Logger {
  const min = threshold();
  const at =
    (level: Level) =>
    (...args: unknown[]): void => {
      if (LEVELS.indexOf(level) >= min) console.error(`[matrix${prefix} ${level}]`, ...args);
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    getChild: (namespace: string) => make(`${prefix} ${namespace}`),
  };
}

/** The logger given to each MatrixClient (createClient's `logger`). */
export const quietLogger: Logger = make('');

/**
 * What every subcommand is made of, and the argument parser they share (node:util parseArgs,
 * with errors turned into one clear line and exit code 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  /** One line for `mxcast --help`. */
  summary: string;
  /** The full text of `mxcast <name> --help`. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/**
 * The exit statuses every command shares. Commands with more say so in their --help from one
 * table each (`mxcast listen`: listen-exit.ts; `mxcast capture`: the capture's CAPTURE_ERROR_CODES);
 * docs/errors.md maps every error code to its status.
 */
export const EXIT = {
  ok: 0,
  /** An error no more precise status covers. */
  error: 1,
  /** Bad arguments or input: nothing was done. */
  badArguments: 2,
} as const;

/** An error meant for the user: printed as one line, exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.badArguments,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0] ?? 'bad arguments', EXIT.badArguments);
  }
}

/** The parseArgs declaration of options that each take one string value (most of ours). */
export function stringOptions<K extends string>(...names: K[]): Record<K, { type: 'string' }> {
  return Object.fromEntries(names.map((n) => [n, { type: 'string' }])) as Record<
    K,
    { type: 'string' }
  >;
}

/**
 * An integer option in `min..max` (decimal digits only), or `fallback` when it is absent; anything
 * else is a CliError naming the option, the range and what was given.
 */
export function integerOption(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`${name} must be an integer in ${min}..${max}, got '${text}'`);
  }
  return n;
}

export function formatHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'mxcast: live end-to-end encrypted audio broadcasting on Matrix streaming file transfer (MSC4016)',
    '',
    'Usage: mxcast <command> [options]     mxcast <command> --help',
    '',
    'Commands:',
    ...lines,
    '',
  ].join('\n');
}

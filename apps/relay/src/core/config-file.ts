/**
 * The `--config` JSON file: its schema (zod), one-line errors that name the field and what it
 * accepts, and the effective configuration `mxcast relay --print-config` prints.
 * docs/operations.md "Configuration file" lists the keys; every limit of RelayLimits is a key of
 * `limits`, derived from DEFAULT_LIMITS so a new limit is accepted the day it is added.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_LIMITS,
  type RelayConfig,
  type RelayLimits,
  type RelayOptions,
} from './relay-config.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './relay-log.ts';

const nonNegative = z
  .number({ error: 'must be a number >= 0' })
  .min(0, { error: 'must be a number >= 0' });
const positive = z
  .number({ error: 'must be a number > 0' })
  .positive({ error: 'must be a number > 0' });
const name = z.string({ error: 'must be a non-empty string' }).min(1, {
  error: 'must be a non-empty string',
});

/** An integer from `min` (to `max`), every failure with the same one-line message. */
function integer(min: number, max?: number) {
  const error =
    max === undefined ? `must be an integer >= ${min}` : `must be an integer ${min}..${max}`;
  const atLeast = z.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? atLeast : atLeast.max(max, { error });
}

const limitKeys = Object.keys(DEFAULT_LIMITS) as (keyof RelayLimits)[];
const limitsSchema = z.strictObject(
  Object.fromEntries(limitKeys.map((k) => [k, nonNegative.optional()])) as Record<
    keyof RelayLimits,
    z.ZodOptional<typeof nonNegative>
  >,
);

export const configFileSchema = z.strictObject({
  dataDir: name.optional(),
  host: name.optional(),
  port: integer(0, 65535).optional(),
  serverName: name.optional(),
  publicUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  webRoot: name.optional(),
  flushIntervalMs: positive.optional(),
  statusIntervalMs: positive.optional(),
  fanoutSliceSize: integer(1).optional(),
  cluster: z
    .strictObject({
      servers: z
        .array(
          z.string().regex(/^(nats|tls):\/\/[^\s/,]+:\d{1,5}$/, {
            error: 'must be a nats://HOST:PORT URL',
          }),
          { error: 'must be a list of nats://HOST:PORT URLs' },
        )
        .min(1, { error: 'must name at least one server' }),
      replicas: integer(1, 5).optional(),
    })
    .optional(),
  limits: limitsSchema.optional(),
  auth: z
    .strictObject({
      requireTokenForDownload: z.boolean({ error: 'must be true or false' }).optional(),
      homeserver: z
        .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
        .optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join('|')}` }).optional(),
      format: z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join('|')}` }).optional(),
    })
    .optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;

export interface LoadedConfigFile {
  /** Relay options from the file; dataDir and webRoot resolved against the file's directory. */
  options: Partial<RelayOptions>;
  log: { level?: LogLevel; format?: LogFormat };
}

/** Reads and validates a `--config` file; throws an Error with a one-line message. */
export function readConfigFile(path: string): LoadedConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read config ${path}: ${(err as Error).message}`);
  }
  return parseConfig(parsed, path);
}

/** Validates an already-parsed config object (`source` names it in errors). */
export function parseConfig(value: unknown, source: string): LoadedConfigFile {
  const result = configFileSchema.safeParse(value, { reportInput: true });
  if (!result.success)
    throw new Error(`config ${source}: ${describeIssue(result.error.issues[0])}`);
  const { log, ...rest } = result.data;
  // Paths in the file mean the same wherever the relay is started from (a systemd unit's
  // working directory is /): relative ones are taken from the file's directory.
  const base = dirname(resolve(source));
  const options: Partial<RelayOptions> = { ...rest };
  if (rest.dataDir) options.dataDir = resolve(base, rest.dataDir);
  if (rest.webRoot) options.webRoot = resolve(base, rest.webRoot);
  return { options, log: log ?? {} };
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue | undefined): string {
  if (!issue) return 'invalid';
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = at ? ` in ${at}` : '';
    const allowed = Object.keys(shapeAt(issue.path)).join(', ');
    return `unknown key '${issue.keys[0]}'${where} (allowed: ${allowed})`;
  }
  if (at === '') return 'expected a JSON object';
  const got = 'input' in issue && issue.input !== undefined ? `, got ${show(issue.input)}` : '';
  return `${at} ${issue.message}${got}`;
}

function shapeAt(path: readonly PropertyKey[]): Record<string, unknown> {
  if (path.length === 0) return configFileSchema.shape;
  if (path[0] === 'limits') return limitsSchema.shape;
  if (path[0] === 'auth') return { requireTokenForDownload: true, homeserver: true };
  if (path[0] === 'cluster') return { servers: true, replicas: true };
  if (path[0] === 'log') return { level: true, format: true };
  return {};
}

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * The effective configuration as `--print-config` shows it: every field with its value after
 * file, flags and defaults, and no secret. Tokens live hashed in relay.db, not in the config;
 * a user:password a publicUrl might carry is dropped.
 */
export function printableConfig(
  config: RelayConfig,
  log: { level: LogLevel; format: LogFormat },
): Record<string, unknown> {
  let publicUrl = config.publicUrl;
  if (publicUrl) {
    const u = new URL(publicUrl);
    u.username = '';
    u.password = '';
    publicUrl = u.toString().replace(/\/$/, '');
  }
  return {
    dataDir: config.dataDir,
    cluster: config.cluster,
    host: config.host,
    port: config.port,
    serverName: config.serverName,
    publicUrl: publicUrl ?? null,
    webRoot: config.webRoot ?? null,
    flushIntervalMs: config.flushIntervalMs,
    statusIntervalMs: config.statusIntervalMs,
    fanoutSliceSize: config.fanoutSliceSize,
    limits: config.limits,
    auth: config.auth,
    log,
  };
}

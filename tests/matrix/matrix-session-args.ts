/**
 * The command line every listener process of the Matrix tests shares (matrix-broadcast-cli.ts,
 * matrix-client-cli.ts, matrix-epochs-cli.ts, golive-listener.ts): `--homeserver URL --user U
 * --password P [--state-dir D]` plus the process's own options, and the Matrix session opened
 * from them (password login, the device kept in the state dir: docs/matrix.md "Devices").
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { openMatrixSession, type MatrixSession } from '@mxcast/matrix';

/** parseArgs's option table (the type node:util exports only as part of its config). */
type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

const SESSION_OPTIONS = {
  homeserver: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  'state-dir': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** The parsed values of the shared options and of `O`, as node:util parseArgs types them. */
export type SessionArgValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: typeof SESSION_OPTIONS & O }>
>['values'];

export interface SessionFromArgs<O extends ParseArgsOptionsConfig> {
  session: MatrixSession;
  homeserver: string;
  /** The state dir, or '' when the process keeps no device. */
  stateDir: string;
  values: SessionArgValues<O>;
}

/**
 * Parses `process.argv` (the shared options and `options`; an unknown option is an error),
 * requires --homeserver, --user, --password and each of `required`, and opens the session as
 * `deviceName`.
 */
export async function openSessionFromArgs<O extends ParseArgsOptionsConfig>(
  deviceName: string,
  options: O,
  required: readonly (keyof O & string)[] = [],
): Promise<SessionFromArgs<O>> {
  const config = { options: { ...SESSION_OPTIONS, ...options } };
  const { values } = parseArgs<{ options: typeof SESSION_OPTIONS & O }>(config);
  const given = values as Record<string, unknown>;
  const needed = ['homeserver', 'user', 'password', ...required];
  const missing = needed.filter((name) => typeof given[name] !== 'string' || given[name] === '');
  if (missing.length > 0) throw new Error(`${missing.map((m) => `--${m}`).join(', ')} needed`);
  const homeserver = given.homeserver as string;
  const stateDir = typeof given['state-dir'] === 'string' ? given['state-dir'] : '';
  const session = await openMatrixSession({
    homeserver,
    auth: { user: given.user as string, password: given.password as string },
    ...(stateDir ? { stateDir } : {}),
    deviceName,
  });
  return { session, homeserver, stateDir, values };
}

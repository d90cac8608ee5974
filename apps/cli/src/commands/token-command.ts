/**
 * `mxcast token create|list|revoke`: access tokens of the relay whose data dir is `--data`, or of
 * the relay cluster whose NATS servers are `--cluster` (its JetStream token bucket). Works
 * while the relay runs (WAL lets both processes in) and the relay reads tokens on every request,
 * so a revoked token is refused at once. Tokens are shown only once, by `create`; `list` names them
 * by a short id (the first 8 hex digits of their sha256), never by the token itself.
 */
import { resolve } from 'node:path';
import {
  createClusterToken,
  createToken,
  listClusterTokens,
  listTokens,
  parseClusterServers,
  revokeClusterTokens,
  revokeTokens,
  type RevokeTarget,
  type TokenInfo,
} from '@mxcast/relay';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';

const HELP = `Usage: mxcast token create @user:server [--data DIR | --cluster URLS]
       mxcast token list [--data DIR | --cluster URLS]
       mxcast token revoke TOKEN | --id ID | --user @user:server [--data DIR | --cluster URLS]

Access tokens for uploads, creates and deletes on the relay whose data directory is DIR
(default ./data), or on the relay cluster whose NATS servers are URLS
(nats://HOST:PORT[,nats://HOST:PORT…], as given to mxcast relay --cluster). Each works while
the relay runs.

  create   prints a new token for the user; only its sha256 is stored, so it is shown this once
  list     one line per token: its id (first 8 hex digits of its sha256, not the token), the
           user and when it was created (UTC), oldest first
  revoke   deletes the token given, the one with that id (from list), or every token of the
           user; the relay refuses it on the next request. Exit code 1 when nothing matched.`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'create, list or revoke access tokens of the relay',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        cluster: { type: 'string' },
        id: { type: 'string' },
        user: { type: 'string' },
      },
      true,
    );
    const [action, ...args] = positionals;
    if (values.data !== undefined && values.cluster !== undefined)
      throw new CliError('give --data or --cluster, not both');
    const where: Where =
      values.cluster !== undefined
        ? { servers: fromRelaySync(() => parseClusterServers(values.cluster ?? '')) }
        : { dataDir: resolve(values.data ?? './data') };
    if (action !== 'revoke' && (values.id !== undefined || values.user !== undefined))
      throw new CliError(`--id and --user belong to 'token revoke'`);
    switch (action) {
      case 'create':
        return create(where, args);
      case 'list':
        if (args.length > 0) throw new CliError(`unexpected argument '${args[0]}'`);
        return list(where);
      case 'revoke':
        return revoke(where, args, values.id, values.user);
      default:
        throw new CliError(
          `expected 'token create|list|revoke', got '${positionals.join(' ') || '(nothing)'}'`,
        );
    }
  },
};

/** One relay's data dir, or a cluster's NATS servers. */
type Where = { dataDir: string } | { servers: string[] };

async function create(where: Where, args: string[]): Promise<number> {
  const [userId, ...extra] = args;
  if (!userId) throw new CliError('missing the user id, e.g. @alice:localhost');
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`);
  const token = await fromRelay(async () =>
    'servers' in where
      ? createClusterToken(where.servers, userId)
      : createToken(where.dataDir, userId),
  );
  process.stdout.write(`${token}\n`);
  return 0;
}

async function list(where: Where): Promise<number> {
  const tokens = await fromRelay<TokenInfo[]>(async () =>
    'servers' in where ? listClusterTokens(where.servers) : listTokens(where.dataDir),
  );
  const lines = tokens.map(
    (t) => `${t.id}  ${new Date(t.createdAt).toISOString().replace(/\.\d+Z$/, 'Z')}  ${t.userId}`,
  );
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  return 0;
}

async function revoke(
  where: Where,
  args: string[],
  id: string | undefined,
  user: string | undefined,
): Promise<number> {
  const given = [args.length > 0, id !== undefined, user !== undefined].filter(Boolean).length;
  if (given !== 1 || args.length > 1)
    throw new CliError('give exactly one of: TOKEN, --id ID, --user @user:server');
  const target: RevokeTarget =
    id !== undefined ? { id } : user !== undefined ? { userId: user } : { token: args[0] ?? '' };
  const n = await fromRelay(async () =>
    'servers' in where
      ? revokeClusterTokens(where.servers, target)
      : revokeTokens(where.dataDir, target),
  );
  if (n === 0) {
    const what = id !== undefined ? `id ${id}` : user !== undefined ? `user ${user}` : 'TOKEN';
    throw new CliError(`no token matched ${what}`, 1);
  }
  process.stdout.write(`revoked ${n} token${n === 1 ? '' : 's'}\n`);
  return 0;
}

/**
 * The relay's errors (no database there, a bad user id or id, no NATS server reachable) as one
 * line for the user.
 */
async function fromRelay<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function fromRelaySync<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

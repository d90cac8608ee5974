/**
 * `mxcast token create|list|revoke`: access tokens of the relay whose data dir is `--data`. Works
 * while the relay runs (WAL lets both processes in) and the relay reads tokens on every request,
 * so a revoked token is refused at once. Tokens are shown only once, by `create`; `list` names them
 * by a short id (the first 8 hex digits of their sha256), never by the token itself.
 */
import { resolve } from 'node:path';
import { createToken, listTokens, revokeTokens, type RevokeTarget } from '@mxcast/relay';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';

const HELP = `Usage: mxcast token create @user:server [--data DIR]
       mxcast token list [--data DIR]
       mxcast token revoke TOKEN | --id ID | --user @user:server [--data DIR]

Access tokens for uploads, creates and deletes on the relay whose data directory is DIR
(default ./data). Each works while the relay runs.

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
      { data: { type: 'string' }, id: { type: 'string' }, user: { type: 'string' } },
      true,
    );
    const [action, ...args] = positionals;
    const dataDir = resolve(values.data ?? './data');
    if (action !== 'revoke' && (values.id !== undefined || values.user !== undefined))
      throw new CliError(`--id and --user belong to 'token revoke'`);
    switch (action) {
      case 'create':
        return create(dataDir, args);
      case 'list':
        if (args.length > 0) throw new CliError(`unexpected argument '${args[0]}'`);
        return list(dataDir);
      case 'revoke':
        return revoke(dataDir, args, values.id, values.user);
      default:
        throw new CliError(
          `expected 'token create|list|revoke', got '${positionals.join(' ') || '(nothing)'}'`,
        );
    }
  },
};

function create(dataDir: string, args: string[]): number {
  const [userId, ...extra] = args;
  if (!userId) throw new CliError('missing the user id, e.g. @alice:localhost');
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`);
  const token = fromRelay(() => createToken(dataDir, userId));
  process.stdout.write(`${token}\n`);
  return 0;
}

function list(dataDir: string): number {
  const tokens = fromRelay(() => listTokens(dataDir));
  const lines = tokens.map(
    (t) => `${t.id}  ${new Date(t.createdAt).toISOString().replace(/\.\d+Z$/, 'Z')}  ${t.userId}`,
  );
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  return 0;
}

function revoke(
  dataDir: string,
  args: string[],
  id: string | undefined,
  user: string | undefined,
): number {
  const given = [args.length > 0, id !== undefined, user !== undefined].filter(Boolean).length;
  if (given !== 1 || args.length > 1)
    throw new CliError('give exactly one of: TOKEN, --id ID, --user @user:server');
  const target: RevokeTarget =
    id !== undefined ? { id } : user !== undefined ? { userId: user } : { token: args[0] ?? '' };
  const n = fromRelay(() => revokeTokens(dataDir, target));
  if (n === 0) {
    const what = id !== undefined ? `id ${id}` : user !== undefined ? `user ${user}` : 'TOKEN';
    throw new CliError(`no token matched ${what}`, 1);
  }
  process.stdout.write(`revoked ${n} token${n === 1 ? '' : 's'}\n`);
  return 0;
}

/** The relay's errors (no database there, a bad user id or id) as one line for the user. */
function fromRelay<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

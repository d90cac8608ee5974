/** `mxcast token create @user:server`: prints a new access token for the relay's data dir. */
import { resolve } from 'node:path';
import { createToken } from '@mxcast/relay';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';

const HELP = `Usage: mxcast token create @user:server [--data DIR]

Creates an access token for uploads, creates and deletes on the relay whose data directory is DIR
(default ./data), and prints it. Only its sha256 is stored. Works while the relay runs.`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'create an access token for the relay',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { data: { type: 'string' } }, true);
    const [action, userId, ...extra] = positionals;
    if (action !== 'create')
      throw new CliError(`expected 'token create @user:server', got '${positionals.join(' ')}'`);
    if (!userId) throw new CliError('missing the user id, e.g. @alice:localhost');
    if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`);
    let token: string;
    try {
      token = createToken(resolve(values.data ?? './data'), userId);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    process.stdout.write(`${token}\n`);
    return 0;
  },
};

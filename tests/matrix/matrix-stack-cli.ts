/**
 * `scripts/matrix-stack.sh`: the development Matrix stack in the foreground (docs/matrix.md).
 * Starts Synapse, the relay and nginx, registers the users asked for, prints one JSON line on
 * stdout (URLs, users with their Synapse and relay tokens, start-up times) and a summary on
 * stderr, and stops everything on SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startMatrixStack } from './matrix-stack.ts';
import { registerUser, type MatrixUser } from './matrix-users.ts';

const usage = `usage: scripts/matrix-stack.sh [--users alice,bob] [--server-name mxcast.test] [--keep]
  --users        users to register, each with the password "<name>-password" (default alice,bob)
  --server-name  the Matrix server name, also the relay's mxc server name (default mxcast.test)
  --keep         keep the stack's directory (configs, logs, databases) after stopping`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        users: { type: 'string', default: 'alice,bob' },
        'server-name': { type: 'string', default: 'mxcast.test' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    console.error(`matrix-stack: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const names = values.users.split(',').filter(Boolean);
  const bad = names.find((n) => !/^[a-z0-9._=-]+$/.test(n));
  if (bad !== undefined) {
    console.error(`matrix-stack: "${bad}" is not a Matrix localpart (a-z 0-9 . _ = -)`);
    return 2;
  }
  const stack = await startMatrixStack({ serverName: values['server-name'], keep: values.keep });
  let users: MatrixUser[];
  try {
    users = [];
    for (const name of names) users.push(await registerUser(stack, name, `${name}-password`));
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const { stop, ...info } = stack;
  console.log(JSON.stringify({ ...info, users }));
  console.error(
    [
      `matrix-stack: up in ${stack.startupMs.total} ms (Synapse ${stack.startupMs.synapse} ms)`,
      `  homeserver (nginx): ${stack.url}   server name: ${stack.serverName}`,
      `  Synapse: ${stack.synapseUrl}   relay: ${stack.relayUrl}   files: ${stack.dir}`,
      ...users.map((u) => `  ${u.userId}  password ${u.password}  relay token ${u.relayToken}`),
      '  Ctrl-C stops the stack.',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stop();
  console.error('matrix-stack: stopped');
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`matrix-stack: ${(err as Error).message}`);
  return 1;
});

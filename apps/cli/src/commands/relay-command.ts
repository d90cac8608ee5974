/** `mxcast relay`: runs the relay in the foreground until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { readConfigFile, startRelay, type RelayOptions } from '@mxcast/relay';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';

const HELP = `Usage: mxcast relay [options]

Runs the mxcast relay in the foreground: stores growing MSC4016 media and fans it out live.
Prints the URL it listens on; stops cleanly on SIGINT/SIGTERM (Ctrl-C).

Options:
  --port N            port to listen on (default 8008; 0 picks a free one)
  --host ADDR         address to bind (default 127.0.0.1)
  --data DIR          data directory: relay.db and media/ (default ./data)
  --server-name NAME  the server name in mxc:// URIs (default localhost)
  --public-url URL    base URL clients use, if not http://host:port (behind a proxy)
  --web-root DIR      serve this directory at / (the built web app: apps/web/dist)
  --config FILE       JSON with limits, auth and flush settings (docs/operations.md)

Tokens for uploads: mxcast token create @user:localhost --data DIR`;

export const relayCommand: Command = {
  name: 'relay',
  summary: 'run the relay (stores live broadcasts, fans them out)',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'server-name': { type: 'string' },
      'public-url': { type: 'string' },
      'web-root': { type: 'string' },
      config: { type: 'string' },
    });
    const port = values.port === undefined ? 8008 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError(`--port must be 0..65535, got '${values.port}'`);
    let fromFile: Partial<RelayOptions> = {};
    if (values.config) {
      try {
        fromFile = readConfigFile(values.config);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
    }
    const options: RelayOptions = {
      ...fromFile,
      dataDir: resolve(values.data ?? './data'),
      port,
      host: values.host ?? '127.0.0.1',
      serverName: values['server-name'] ?? fromFile.serverName ?? 'localhost',
      publicUrl: values['public-url'] ?? fromFile.publicUrl,
      webRoot: values['web-root'] ?? fromFile.webRoot,
      log: (line) => process.stderr.write(`relay: ${line}\n`),
    };
    let relay;
    try {
      relay = await startRelay(options);
    } catch (err) {
      throw new CliError(`cannot start: ${(err as Error).message}`, 1);
    }
    process.stdout.write(`${relay.url}\n`);
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await relay.close();
    return 0;
  },
};

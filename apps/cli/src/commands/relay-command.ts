/** `mxcast relay`: runs the relay in the foreground until SIGINT/SIGTERM. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createLogger,
  createToken,
  LOG_FORMATS,
  LOG_LEVELS,
  parseClusterServers,
  printableConfig,
  readConfigFile,
  repairDataDir,
  resolveConfig,
  startRelay,
  type LoadedConfigFile,
  type RelayOptions,
} from '@mxcast/relay';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';
import { startDemoBroadcast, type DemoBroadcast } from '../demo/demo-broadcast.ts';
import { isRelayWorker, parseWorkers, runRelayWorkers, workerDataDir } from '../relay-workers.ts';

/**
 * The built web app, served at / when it exists: dist/web next to the compiled bundle (the npm
 * tarball, apps/cli/scripts/bundle-cli.mjs), else apps/web/dist of this checkout (from the
 * bundle in apps/cli/dist, or from this source file).
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const BUILT_WEB_APP =
  [join(HERE, 'web'), join(HERE, '../../web/dist'), join(HERE, '../../../web/dist')].find((dir) =>
    existsSync(join(dir, 'index.html')),
  ) ?? join(HERE, '../../../web/dist');

const HELP = `Usage: mxcast relay [options]

Runs the mxcast relay in the foreground: stores growing MSC4016 media and fans it out live.
Prints the URL it listens on; stops cleanly on SIGINT/SIGTERM (Ctrl-C).

Options:
  --port N            port to listen on (default 8008; 0 picks a free one)
  --host ADDR         address to bind (default 127.0.0.1)
  --data DIR          data directory: relay.db and media/ (default ./data)
  (flags win over the --config file, which wins over the defaults)
  --server-name NAME  the server name in mxc:// URIs (default localhost)
  --public-url URL    base URL clients use, if not http://host:port (behind a proxy)
  --web-root DIR      serve this directory at / (default: apps/web/dist once built)
  --cluster URLS      cluster mode: nats://HOST:PORT[,nats://HOST:PORT…] of NATS servers with
                      JetStream; media, states and tokens live there, not in --data; nodes of
                      one cluster share --server-name (docs/operations.md "Cluster")
  --homeserver URL    homeserver mode: access tokens are the homeserver's (checked with
                      whoami, cached briefly), downloads need one; set --server-name to the
                      homeserver's server name (docs/matrix.md)
  --config FILE       JSON: dataDir, host, port, limits, auth, log … (docs/operations.md
                      "Configuration file"); validated, an error names the field
  --print-config      print the effective configuration (file + flags + defaults) as JSON
                      and exit; it holds no secret
  --log-level LEVEL   error|warn|info|debug (default info); logs go to stderr
  --log-format FMT    text|json (default text)
  --workers N|auto    run N relay processes behind the one port (auto: one per core), each a
                      node of the --cluster; embedded mode has one (docs/operations.md "Cluster")
  --demo              also run a live demo broadcast and print its listen link, an access
                      token and the command to go live from the CLI
  --repair            with the relay stopped: rebuild the media rows of relay.db from the
                      files in media/ (after relay.db was lost or truncated), look again at
                      media marked damaged, print what was done and exit
                      (docs/operations.md "Damage and repair")

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
      homeserver: { type: 'string' },
      cluster: { type: 'string' },
      config: { type: 'string' },
      demo: { type: 'boolean' },
      repair: { type: 'boolean' },
      'print-config': { type: 'boolean' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      workers: { type: 'string' },
    });
    const workers = parseWorkers(values.workers);
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
      throw new CliError(`--port must be 0..65535, got '${values.port}'`);
    let file: LoadedConfigFile = { options: {}, log: {} };
    if (values.config) {
      try {
        file = readConfigFile(values.config);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
    }
    const fromFile = file.options;
    const level = oneOf('--log-level', values['log-level'], LOG_LEVELS) ?? file.log.level ?? 'info';
    const format =
      oneOf('--log-format', values['log-format'], LOG_FORMATS) ?? file.log.format ?? 'text';
    const options: RelayOptions = {
      ...fromFile,
      dataDir:
        values.data !== undefined ? resolve(values.data) : (fromFile.dataDir ?? resolve('./data')),
      port: port ?? fromFile.port ?? 8008,
      host: values.host ?? fromFile.host ?? '127.0.0.1',
      serverName: values['server-name'] ?? fromFile.serverName ?? 'localhost',
      publicUrl: values['public-url'] ?? fromFile.publicUrl,
      webRoot:
        values['web-root'] ??
        fromFile.webRoot ??
        (existsSync(BUILT_WEB_APP) ? BUILT_WEB_APP : undefined),
      auth:
        values.homeserver !== undefined
          ? { ...fromFile.auth, homeserver: httpUrl('--homeserver', values.homeserver) }
          : fromFile.auth,
      cluster:
        values.cluster !== undefined
          ? { ...fromFile.cluster, servers: clusterServers(values.cluster) }
          : fromFile.cluster,
      logger: createLogger({ level, format, write: (line) => process.stderr.write(`${line}\n`) }),
    };
    if (values['print-config']) {
      const effective = printableConfig(resolveConfig(options), { level, format });
      process.stdout.write(`${JSON.stringify(effective, null, 2)}\n`);
      return 0;
    }
    if (values.repair) return repair(options);
    // The demo uploads with a relay.db token, which homeserver mode does not accept.
    if (values.demo && options.auth?.homeserver)
      throw new CliError('--demo needs standalone mode: it cannot be used with a homeserver');
    if (workers > 1) {
      // SQLite and the media files are owned by one process (the data-dir lock): only cluster
      // nodes, whose state is in JetStream, can share a port.
      if (!options.cluster)
        throw new CliError(
          '--workers needs --cluster: in embedded mode one process owns relay.db and the media files',
        );
      if (values.demo) throw new CliError('--demo runs in one process: drop --workers');
      if (!isRelayWorker) {
        const host = options.host ?? '127.0.0.1';
        return runRelayWorkers({
          count: workers,
          urlFor: (p) => options.publicUrl?.replace(/\/+$/, '') ?? `http://${host}:${p}`,
          log: (line) => process.stderr.write(`relay: ${line}\n`),
        });
      }
      options.dataDir = workerDataDir(options.dataDir);
    }
    let relay;
    try {
      relay = await startRelay(options);
    } catch (err) {
      throw new CliError(`cannot start: ${(err as Error).message}`, 1);
    }
    // With --workers the primary prints the URL once, when every worker listens.
    if (!isRelayWorker) process.stdout.write(`${relay.url}\n`);
    let demo: DemoBroadcast | null = null;
    if (values.demo) demo = await runDemo(relay.url, options);
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await demo?.stop().catch(() => undefined);
    await relay.close();
    return 0;
  },
};

/** A flag's value checked against its allowed values (exit 2 naming them), or undefined. */
function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new CliError(`${flag} must be one of ${allowed.join('|')}, got '${value}'`);
  return value as T;
}

/** `--repair`: one line per media rebuilt, skipped or still damaged; stdout, then exit. */
function repair(options: RelayOptions): number {
  let report;
  try {
    report = repairDataDir(options);
  } catch (err) {
    throw new CliError(`cannot repair: ${(err as Error).message}`, 1);
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (report.movedAside) say(`relay.db was unreadable: moved to ${report.movedAside}`);
  for (const m of report.recovered) {
    const what =
      m.state === 'complete'
        ? `complete, ${m.byteLength} bytes, sha256 ${m.sha256}`
        : `live (resumable), ${m.byteLength} bytes`;
    say(`recovered ${m.id}: ${what}, owner ${report.owner}`);
  }
  for (const m of report.skipped) say(`skipped ${m.id}: ${m.why}`);
  for (const id of report.cleared) say(`cleared ${id}: its file matches again`);
  for (const m of report.stillDamaged) say(`still damaged ${m.id}: ${m.damage}`);
  say(
    `repaired: ${report.recovered.length} recovered, ${report.skipped.length} skipped, ` +
      `${report.cleared.length} cleared, ${report.stillDamaged.length} still damaged`,
  );
  if (report.recovered.length > 0) {
    say(
      `access tokens cannot be recovered (only their hashes were stored): create new ones with ` +
        `mxcast token create; one for ${report.owner} manages the recovered media`,
    );
  }
  return 0;
}

/** `--demo`: a token, a live demo broadcast, and what to open (README "npm start"). */
async function runDemo(url: string, options: RelayOptions): Promise<DemoBroadcast> {
  const token = createToken(options.dataDir, `@demo:${options.serverName ?? 'localhost'}`);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`broadcaster page: ${url}/${options.webRoot ? '' : '  (build the web app: apps/web)'}`);
  say(`access token:     ${token}`);
  // The command as the user can type it here: the checkout's launcher (`./mxcast`, which sets
  // MXCAST_COMMAND) or `mxcast` on PATH (the installed tarball); never pnpm, whose version may
  // not match the pinned one (README "Using it").
  const mxcast = process.env.MXCAST_COMMAND ?? 'mxcast';
  say(
    `go live from the CLI: ${mxcast} capture --relay ${url} --token ${token} --input mic --title "My talk"`,
  );
  const demo = await startDemoBroadcast({
    relayUrl: url,
    token,
    onNotice: (line) => process.stderr.write(`demo: ${line}\n`),
  });
  demo.link.then(
    (link) => say(`demo broadcast, live now: ${link}`),
    () => undefined,
  );
  return demo;
}

/** A flag's http(s) URL, or a CliError naming the flag. */
function httpUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${flag} must be an http:// or https:// URL, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`${flag} must be an http:// or https:// URL, got '${value}'`);
  return value;
}

/** `--cluster nats://HOST:PORT[,…]` as a server list; a malformed one is a one-line exit 2. */
function clusterServers(value: string): string[] {
  try {
    return parseClusterServers(value);
  } catch (err) {
    throw new CliError(`--cluster: ${(err as Error).message.replace(/^cluster: /, '')}`);
  }
}

/**
 * The development Matrix stack (docs/matrix.md): Debian's Synapse in the cached Debian-unstable
 * chroot (scripts/matrix-chroot.sh), an `mxcast relay` process, and the host's nginx in front
 * with the repository's routing (deploy/matrix/nginx-matrix.conf.template), each on a free
 * loopback port. The tests, the demo and `scripts/matrix-stack.sh` all start it through here.
 * Plain Node (no vitest import), so the CLI wrapper can use it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSynapseConfig } from './synapse-config.ts';
import { waitForHttp, waitForExitOrKill, type StackProcess } from './stack-process.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mxcastBin = path.join(repoRoot, 'apps/cli/bin/mxcast.js');
const deployDir = path.join(repoRoot, 'deploy/matrix');
const SETPRIV = '/usr/bin/setpriv';
/** In a stack directory started with `keep`: never removed as stale. */
const KEEP_MARKER = '.keep';

export interface MatrixStackOptions {
  /** The Matrix server name, also the relay's mxc server name. Default `mxcast.test`. */
  serverName?: string;
  /** Keep the stack's directory (configs, logs, databases) after stop. */
  keep?: boolean;
  /**
   * Start the relay in homeserver mode (`--homeserver`): Synapse's own URL, or the URL `via`
   * returns for it (e.g. a counting proxy in front of Synapse).
   */
  relayHomeserver?: true | { via: (synapseUrl: string) => string };
  /** More `mxcast relay` arguments (e.g. `--config FILE`). */
  relayArgs?: string[];
}

export interface MatrixStack {
  serverName: string;
  /** nginx in front: what clients use (`http://127.0.0.1:PORT`). */
  url: string;
  /** Synapse's own listener (admin registration goes here, not through nginx). */
  synapseUrl: string;
  /** The relay's own listener. */
  relayUrl: string;
  /** The stack's directory on the host: configs, logs, Synapse's SQLite and media store. */
  dir: string;
  /** The relay's data dir (for `createToken`). */
  relayDataDir: string;
  /** Shared secret of Synapse's admin registration API. */
  registrationSharedSecret: string;
  /** Milliseconds each part took to answer, from spawn to ready. */
  startupMs: { chroot: number; synapse: number; relay: number; nginx: number; total: number };
  stop(): Promise<void>;
}

/** The chroot holding Synapse, built once and cached (scripts/matrix-chroot.sh). */
export function ensureSynapseChroot(): string {
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/matrix-chroot.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`scripts/matrix-chroot.sh failed (exit ${r.status})`);
  return r.stdout.trim().split('\n').at(-1) ?? '';
}

export async function startMatrixStack(options: MatrixStackOptions = {}): Promise<MatrixStack> {
  const t0 = performance.now();
  const serverName = options.serverName ?? 'mxcast.test';
  const chroot = ensureSynapseChroot();
  const tChroot = performance.now();
  // Synapse sees the stack's directory at /tmp/NAME inside the chroot; the host at chroot/tmp/NAME.
  removeStaleStacks(path.join(chroot, 'tmp'));
  const dir = mkdtempSync(path.join(chroot, 'tmp', 'mxcast-stack-'));
  // MXCAST_KEEP_STACK=1 keeps every stack's directory (relay.out, synapse.out…) to read after a failure.
  const keep = options.keep ?? process.env.MXCAST_KEEP_STACK === '1';
  if (keep) writeFileSync(path.join(dir, KEEP_MARKER), '');
  const innerDir = path.join('/tmp', path.basename(dir));
  const [synapsePort = 0, relayPort = 0, nginxPort = 0] = await freePorts(3);
  const url = `http://127.0.0.1:${nginxPort}`;
  const registrationSharedSecret = randomBytes(24).toString('hex');
  const procs: StackProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // nginx first (no new requests), then the relay and Synapse side by side.
      const [front, ...rest] = [...procs].reverse();
      if (front) await waitForExitOrKill(front, 10_000);
      await Promise.all(rest.map((p) => waitForExitOrKill(p, 10_000)));
      if (!keep) rmSync(dir, { recursive: true, force: true });
    })());
  try {
    const config = writeSynapseConfig({
      serverName,
      port: synapsePort,
      dir: innerDir,
      hostDir: dir,
      publicBaseUrl: `${url}/`,
      registrationSharedSecret,
    });
    // Synapse and the relay start side by side; nginx needs neither to start.
    const synapse = spawnSynapse(chroot, config, dir);
    procs.push(synapse);
    const relayDataDir = path.join(dir, 'relay');
    const hs = options.relayHomeserver;
    const direct = `http://127.0.0.1:${synapsePort}`;
    const homeserverArgs = !hs ? [] : ['--homeserver', hs === true ? direct : hs.via(direct)];
    const relay = spawnLogged(
      'relay',
      process.execPath,
      [
        mxcastBin,
        'relay',
        ...['--port', String(relayPort), '--host', '127.0.0.1'],
        ...['--data', relayDataDir, '--server-name', serverName],
        ...homeserverArgs,
        ...(options.relayArgs ?? []),
      ],
      dir,
    );
    procs.push(relay);
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    const synapseUrl = `http://127.0.0.1:${synapsePort}`;
    const [tSynapse, tRelay] = await Promise.all([
      waitForHttp(synapse, `${synapseUrl}/health`, 90_000).then(() => performance.now()),
      waitForHttp(relay, `${relayUrl}/_matrix/media/v3/config`, 30_000, [200, 401, 404]).then(() =>
        performance.now(),
      ),
    ]);
    const tNginx0 = performance.now();
    const nginx = spawnNginx(dir, nginxPort, serverName, relayPort, synapsePort);
    procs.push(nginx);
    await waitForHttp(nginx, `${url}/health`, 10_000);
    const tEnd = performance.now();
    return {
      serverName,
      url,
      synapseUrl,
      relayUrl,
      dir,
      relayDataDir,
      registrationSharedSecret,
      startupMs: {
        chroot: Math.round(tChroot - t0),
        synapse: Math.round(tSynapse - tChroot),
        relay: Math.round(tRelay - tChroot),
        nginx: Math.round(tEnd - tNginx0),
        total: Math.round(tEnd - t0),
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Directories of stacks whose process was killed outright (its children die with it, see
 * spawnLogged, but nothing removes the directory): no live Synapse pid in it and older than a
 * minute (so a stack still starting is left alone). Kept stacks stay.
 */
function removeStaleStacks(tmp: string): void {
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith('mxcast-stack-')) continue;
    const dir = path.join(tmp, name);
    try {
      if (existsSync(path.join(dir, KEEP_MARKER))) continue;
      if (Date.now() - statSync(dir).mtimeMs < 60_000) continue;
      const pidFile = path.join(dir, 'homeserver.pid');
      const pid = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
      if (pid && existsSync(`/proc/${pid}`)) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another run removed it meanwhile.
    }
  }
}

/**
 * Synapse from the chroot, with /proc mounted in a private mount namespace that ends with it
 * (no mount outlives the stack). `exec` keeps one pid from unshare to Python, so signals reach
 * Synapse itself.
 */
function spawnSynapse(chroot: string, config: string, dir: string): StackProcess {
  const script =
    'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/python3 -m synapse.app.homeserver -c "$2"';
  return spawnLogged(
    'synapse',
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', chroot, config],
    dir,
    { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/tmp' },
  );
}

/** nginx (the host's) with the repository's site config filled in, in the foreground. */
function spawnNginx(
  dir: string,
  port: number,
  serverName: string,
  relayPort: number,
  synapsePort: number,
): StackProcess {
  const conf = path.join(dir, 'nginx');
  mkdirSync(path.join(conf, 'temp'), { recursive: true });
  const site = readFileSync(path.join(deployDir, 'nginx-matrix.conf.template'), 'utf8')
    .replaceAll('${LISTEN}', `127.0.0.1:${port}`)
    .replaceAll('${SERVER_NAME}', serverName)
    .replaceAll('${RELAY_UPSTREAM}', `127.0.0.1:${relayPort}`)
    .replaceAll('${SYNAPSE_UPSTREAM}', `127.0.0.1:${synapsePort}`);
  writeFileSync(path.join(conf, 'matrix.conf'), site);
  copyFileSync(
    path.join(deployDir, 'mxcast-relay-stream.conf'),
    path.join(conf, 'mxcast-relay-stream.conf'),
  );
  const temp = (name: string) => `${name}_temp_path ${path.join(conf, 'temp', name)};`;
  writeFileSync(
    path.join(conf, 'nginx.conf'),
    [
      // As root, workers would drop to `nobody`, who cannot enter the stack's 0700 directory.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `pid ${path.join(conf, 'nginx.pid')};`,
      `error_log ${path.join(dir, 'nginx-error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp),
      '  include matrix.conf;',
      '}',
      '',
    ].join('\n'),
  );
  return spawnLogged(
    'nginx',
    // Debian's nginx is in /usr/sbin, which a non-login PATH may lack.
    existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx',
    [
      '-p',
      conf,
      '-c',
      path.join(conf, 'nginx.conf'),
      '-e',
      path.join(dir, 'nginx-error.log'),
      '-g',
      'daemon off;',
    ],
    dir,
  );
}

function spawnLogged(
  name: string,
  command: string,
  args: string[],
  dir: string,
  env?: NodeJS.ProcessEnv,
): StackProcess {
  const log = path.join(dir, `${name}.out`);
  const fd = openSync(log, 'a');
  // setpriv (util-linux) makes the kernel send SIGTERM when this process dies, even by SIGKILL,
  // so a killed test run leaves no Synapse, relay or nginx behind. It execs: same pid.
  if (existsSync(SETPRIV)) [command, args] = [SETPRIV, ['--pdeathsig', 'TERM', command, ...args]];
  const child: ChildProcess = spawn(command, args, {
    stdio: ['ignore', fd, fd],
    ...(env ? { env } : {}),
  });
  return { name, child, log };
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

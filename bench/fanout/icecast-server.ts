/**
 * The Icecast 2.4 peer: a generated config (loopback only, burst-on-connect and burst-size 0
 * so a listener starts at the live edge like the relay's — or Icecast's default burst for the
 * join bench, see IcecastBurst —, client limits above the bench's
 * largest N, a queue large enough that only a server that really falls behind drops anyone)
 * and the server started pinned to core 0. Icecast refuses to run as root unless the config
 * tells it whom to become, so as root it gets <changeowner> nobody:nogroup.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PinnedProcess, SERVER_CORE, freePort, waitForPort } from './pinned-process.ts';

export const ICECAST_MOUNT = '/mount.opus';

export interface IcecastServer {
  port: number;
  process: PinnedProcess;
  sourceAuthorization: string;
  version: string;
  close(): Promise<void>;
}

/** The icecast2 binary, or null with the reason it is unusable. */
export function findIcecast(): { binary: string; version: string } | { missing: string } {
  for (const binary of ['icecast2', 'icecast']) {
    try {
      const out = execFileSync(binary, ['-v'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { binary, version: out.trim() };
    } catch {
      // try the next name
    }
  }
  return {
    missing:
      'Icecast 2.4 is not installed, so the peer rows were skipped: install it with ' +
      '`sudo apt-get install -y icecast2` (Debian/Ubuntu) and run `pnpm bench fanout` again.',
  };
}

/**
 * Burst-on-connect: 0 (the fan-out bench: a new listener starts at the live edge), or
 * 'default' (Icecast 2.4's own defaults, burst-on-connect 1 and burst-size 65535 bytes: the
 * lines are left out, as a newcomer's config leaves them).
 */
export type IcecastBurst = 0 | 'default';

function config(
  port: number,
  dir: string,
  password: string,
  maxClients: number,
  burst: IcecastBurst,
): string {
  const asRoot = process.getuid?.() === 0;
  const limitsBurst =
    burst === 'default'
      ? ''
      : '\n    <burst-on-connect>0</burst-on-connect>\n    <burst-size>0</burst-size>';
  const mountBurst = burst === 'default' ? '' : '\n    <burst-size>0</burst-size>';
  return `<icecast>
  <location>mxcast fanout bench</location>
  <admin>bench@localhost</admin>
  <limits>
    <clients>${maxClients}</clients>
    <sources>2</sources>
    <queue-size>16777216</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>${limitsBurst}
  </limits>
  <authentication>
    <source-password>${password}</source-password>
    <admin-user>admin</admin-user>
    <admin-password>${password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket>
    <port>${port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>${ICECAST_MOUNT}</mount-name>
    <max-listeners>-1</max-listeners>${mountBurst}
    <queue-size>16777216</queue-size>
  </mount>
  <fileserve>0</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>${dir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>2</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>${asRoot ? '\n    <changeowner><user>nobody</user><group>nogroup</group></changeowner>' : ''}
  </security>
</icecast>
`;
}

export async function startIcecast(
  binary: string,
  version: string,
  maxClients: number,
  burst: IcecastBurst = 0,
): Promise<IcecastServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxcast-icecast-'));
  await chmod(dir, 0o777); // Icecast opens its logs after dropping to nobody
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const file = path.join(dir, 'icecast.xml');
  await writeFile(file, config(port, dir, password, maxClients, burst));
  const proc = new PinnedProcess('icecast', SERVER_CORE, binary, ['-c', file]);
  try {
    await waitForPort(port, proc, 10_000);
  } catch (err) {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    process: proc,
    version,
    sourceAuthorization: `Basic ${Buffer.from(`source:${password}`).toString('base64')}`,
    close: async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

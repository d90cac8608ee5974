/**
 * The relay behind Debian's nginx, as deploy/README.md sets it up: deploy/nginx-mxcast.conf
 * with its ports, server name, certificate and log paths substituted, a self-signed certificate
 * (openssl) for localhost, and nginx as a process the test owns (`daemon off`, a temp prefix,
 * error log in the temp dir): no system service is touched.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { freePort, killAndWait, root, tempDir } from '../capture/capture-harness.ts';

export const SITE_FILE = path.join(root, 'deploy/nginx-mxcast.conf');
/** Debian's nginx (scripts/setup.sh installs it); /usr/sbin is not on every user's PATH. */
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

export interface TlsProxy {
  /** `https://localhost:PORT` */
  url: string;
  port: number;
  /** The certificate (PEM), to trust as a CA. */
  cert: string;
  dir: string;
  errorLog(): string;
  accessLog(): string;
  stop(): Promise<void>;
}

/** Replaces each `from` in `text` once at least; throws naming what the site file lacks. */
function substitute(text: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`deploy/nginx-mxcast.conf has no '${from}'`);
    text = text.split(from).join(to);
  }
  return text;
}

export async function startTlsProxy(relayPort: number): Promise<TlsProxy> {
  const dir = tempDir('mxcast-nginx-');
  // nginx started as root runs its workers as nobody: they must reach the temp dir.
  chmodSync(dir, 0o755);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const [tlsPort, plainPort] = [await freePort(), await freePort()];
  const site = substitute(readFileSync(SITE_FILE, 'utf8'), [
    ['server 127.0.0.1:8008;', `server 127.0.0.1:${relayPort};`],
    ['    listen [::]:80;\n', ''],
    ['    listen [::]:443 ssl http2;\n', ''],
    ['listen 80;', `listen 127.0.0.1:${plainPort};`],
    ['listen 443 ssl http2;', `listen 127.0.0.1:${tlsPort} ssl http2;`],
    ['relay.example.org;', 'localhost;'],
    ['/etc/letsencrypt/live/relay.example.org/fullchain.pem', cert],
    ['/etc/letsencrypt/live/relay.example.org/privkey.pem', key],
    ['/var/log/nginx/mxcast.access.log', path.join(dir, 'access.log')],
  ]);
  writeFileSync(path.join(dir, 'site.conf'), site);
  const temp = (name: string) => `${name}_temp_path ${path.join(dir, name)};`;
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${path.join(dir, 'error.log')} info;`,
      'events { worker_connections 512; }',
      'http {',
      '  include /etc/nginx/mime.types;',
      `  access_log ${path.join(dir, 'default-access.log')};`,
      `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}`,
      `  include ${path.join(dir, 'site.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(NGINX, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const errorLog = () => {
    try {
      return readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  await waitForPort(tlsPort, child, () => `${stderr}\n${errorLog()}`);
  return {
    url: `https://localhost:${tlsPort}`,
    port: tlsPort,
    cert: readFileSync(cert, 'utf8'),
    dir,
    errorLog,
    accessLog: () => readFileSync(path.join(dir, 'access.log'), 'utf8'),
    // SIGTERM: nginx's fast shutdown (SIGQUIT would wait for a hung upload to end).
    stop: () => killAndWait(child, 'SIGTERM'),
  };
}

async function waitForPort(port: number, child: ChildProcess, why: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${why()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${why()}`);
}

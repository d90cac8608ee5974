/**
 * The README and the code agree: the two set-up commands name scripts that exist
 * and do what the README says, and every `mxcast …` example in the README names a real
 * subcommand whose `--help` lists each option the example uses.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { freePort } from '../capture/capture-harness.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'apps/cli/bin/mxcast.js');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

/** The `mxcast <sub> …` invocations in the README's code blocks. */
function examples(): { sub: string; options: string[]; line: string }[] {
  const blocks = readme.match(/```sh\n[\s\S]*?```/g) ?? [];
  const found: { sub: string; options: string[]; line: string }[] = [];
  for (const block of blocks) {
    for (const line of block.split('\n')) {
      for (const m of line.matchAll(/mxcast (\w+)((?:\s+(?!#|;|\|)\S+)*)/g)) {
        const sub = m[1] as string;
        const options = [...(m[2] ?? '').matchAll(/(--[a-z][a-z-]*)/g)].map((o) => o[1] as string);
        found.push({ sub, options, line: line.trim() });
      }
    }
  }
  return found;
}

describe('README', () => {
  it('starts with the two set-up commands, and they run the scripts that exist', () => {
    const firstBlock = readme.match(/```sh\n([\s\S]*?)```/)?.[1] ?? '';
    expect(firstBlock).toMatch(/^npm start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
    expect(pkg.scripts.start).toBe('bash scripts/start.sh');
    expect(pkg.scripts.test).toBe('bash scripts/test.sh');
    const start = readFileSync(path.join(root, 'scripts/start.sh'), 'utf8');
    expect(start).toMatch(/mxcast relay --demo/);
    const ci = readFileSync(path.join(root, '.ci/run'), 'utf8');
    expect(ci.trim().split('\n').at(-1)).toBe('npm test');
  });

  it('names only real subcommands and options in its mxcast examples', async () => {
    const list = examples();
    expect(list.length).toBeGreaterThan(5);
    const helps = new Map<string, string>();
    for (const { sub, options, line } of list) {
      if (!helps.has(sub)) {
        const { stdout } = await run(process.execPath, [bin, sub, '--help']);
        helps.set(sub, stdout);
      }
      const help = helps.get(sub) as string;
      for (const option of options) {
        expect(help, `README line: ${line}`).toContain(option);
      }
    }
  });
});

/**
 * A shell where `pnpm` exists but refuses to run (like a global pnpm of another version than
 * the pinned one), without what vitest and pnpm put in the environment (VITEST makes the bin
 * prefer sources).
 */
function userShellEnv(fakeBin: string): NodeJS.ProcessEnv {
  writeFileSync(
    path.join(fakeBin, 'pnpm'),
    '#!/bin/sh\necho "pnpm: refusing to switch to the pinned version" >&2\nexit 1\n',
  );
  chmodSync(path.join(fakeBin, 'pnpm'), 0o755);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(VITEST|npm_|PNPM_|TURBO_|NODE_OPTIONS|MXCAST_)/i.test(key)) env[key] = value;
  }
  const dirs = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => !d.includes('node_modules'));
  env.PATH = [fakeBin, path.dirname(process.execPath), ...dirs].join(path.delimiter);
  return env;
}

function sh(
  command: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the commands npm start and the README print, without pnpm', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mxcast-readme-'));
  const fakeBin = path.join(tmp, 'bin');
  mkdirSync(fakeBin);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('README "Using it" names ./mxcast, never pnpm exec', () => {
    expect(readme).not.toMatch(/pnpm exec mxcast|scripts\/pnpm\.sh exec/);
    const using = readme.slice(readme.indexOf('## Using it'));
    const block = using.match(/```sh\n([\s\S]*?)```/)?.[1] ?? '';
    const lines = block.split('\n').filter((l) => l.trim());
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(line).toMatch(/^\.\/mxcast /);
  });

  it('./mxcast --help runs with a pnpm that refuses to run on PATH', async () => {
    const r = await sh('./mxcast --help', userShellEnv(fakeBin));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: mxcast <command>/m);
  });

  it("npm start's relay line, then the go-live command it prints, then listen to the demo", async () => {
    const env = userShellEnv(fakeBin);
    // The last line of scripts/start.sh, run as it is (after set-up), on a free port and a
    // temporary data dir (start.sh passes its arguments on: `npm start -- --data DIR`).
    const start = readFileSync(path.join(root, 'scripts/start.sh'), 'utf8');
    const execLine = start.trim().split('\n').at(-1) as string;
    expect(execLine).toMatch(/^exec \.\/mxcast relay --demo /);
    env.MXCAST_PORT = String(await freePort());
    const dataDir = path.join(tmp, 'data');
    const relay = spawn('bash', ['-c', execLine, 'start.sh', '--data', dataDir], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    relay.stdout.on('data', (d: Buffer) => (out += d.toString()));
    relay.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no demo link: ${out}`)), 60_000);
        relay.stdout.on('data', () => {
          if (/demo broadcast, live now: \S+/.test(out) && /go live from the CLI: .+/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
        relay.once('exit', (code) => reject(new Error(`relay exited ${code}: ${out}`)));
      });
      const printed = out.match(/go live from the CLI: (.+)/)?.[1] as string;
      // The launcher as it was started: `./mxcast`, or its full path when bash's `exec` ran it.
      const launcher = printed.split(' ')[0] as string;
      expect(['./mxcast', path.join(root, 'mxcast')]).toContain(launcher);
      expect(printed.slice(launcher.length)).toMatch(
        /^ capture --relay http:\/\/127\.0\.0\.1:\d+ --token \S+ --input mic /,
      );
      // Exactly the printed command, but for the source: this machine has no microphone.
      const command = printed.replace('--input mic', '--input sine:440 --duration 2');
      const capture = await sh(`${command} --quiet`, env);
      expect(capture.code, capture.stderr).toBe(0);
      expect(capture.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/listen#mxc=/m);

      const link = out.match(/demo broadcast, live now: (\S+)/)?.[1] as string;
      const wav = path.join(tmp, 'demo.wav');
      const listen = await sh(`./mxcast listen '${link}' --duration 1 --out ${wav} --quiet`, env);
      expect(listen.code, listen.stderr).toBe(0);
      const audio = readWav(readFileSync(wav));
      expect(audio.samples.length / audio.channels / audio.sampleRate).toBeCloseTo(1, 1);
    } finally {
      relay.kill('SIGTERM');
    }
  });
});

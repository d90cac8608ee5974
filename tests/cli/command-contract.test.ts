/**
 * README.md: one command, `mxcast`, with (at least) these subcommands, each with `--help`.
 * Runs the real bin the way the README does.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'apps/cli/bin/mxcast.js');
const REQUIRED = ['relay', 'capture', 'listen', 'encrypt', 'decrypt', 'inspect', 'token'];

describe('the mxcast command', () => {
  it('lists every required subcommand in --help', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    for (const name of REQUIRED) expect(stdout).toMatch(new RegExp(`^  ${name}\\s`, 'm'));
  });

  it.each(REQUIRED)('%s --help prints its usage and exits 0', async (name) => {
    const { stdout } = await run(process.execPath, [bin, name, '--help']);
    expect(stdout).toMatch(/usage/i);
    expect(stdout).toContain(name);
  });

  it('refuses an unknown subcommand with one line and exit code 2', async () => {
    const err = await run(process.execPath, [bin, 'frobnicate']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1);
  });
});

/**
 * The README and the code agree: the two set-up commands name scripts that exist
 * and do what the README says, and every `mxcast …` example in the README names a real
 * subcommand whose `--help` lists each option the example uses.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

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

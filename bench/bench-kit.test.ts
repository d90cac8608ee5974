/** bench-kit.ts: which code a recorded run measured. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeDescription } from './bench-kit.ts';

describe('codeDescription', () => {
  let root: string;
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'bench-kit-'));
    git('init', '-q');
    await mkdir(path.join(root, 'bench', 'results'), { recursive: true });
    await mkdir(path.join(root, 'docs'));
    await writeFile(path.join(root, 'relay.ts'), 'one\n');
    await writeFile(path.join(root, 'bench', 'results', 'fanout.json'), '{}\n');
    await writeFile(path.join(root, 'docs', 'benchmarks.md'), '# Benchmarks\n');
    git('add', '-A');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-qm', 'first');
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('names the commit of a tree as committed', () => {
    expect(codeDescription(root)).toBe(git('rev-parse', '--short', 'HEAD'));
  });

  it('does not count what a run writes as a change', async () => {
    await writeFile(path.join(root, 'bench', 'results', 'fanout.json'), '{"new":1}\n');
    await writeFile(path.join(root, 'bench', 'results', 'web.json'), '{}\n');
    await writeFile(path.join(root, 'docs', 'benchmarks.md'), '# Benchmarks, regenerated\n');
    expect(codeDescription(root)).toBe(git('rev-parse', '--short', 'HEAD'));
  });

  it('says when the code differs from the commit, edited or added', async () => {
    const head = git('rev-parse', '--short', 'HEAD');
    await writeFile(path.join(root, 'relay.ts'), 'two\n');
    expect(codeDescription(root)).toBe(`${head} + uncommitted changes`);
    git('checkout', '-q', 'relay.ts');
    await writeFile(path.join(root, 'limits.ts'), 'new\n');
    expect(codeDescription(root)).toBe(`${head} + uncommitted changes`);
  });

  it('is absent where git cannot tell', async () => {
    await rm(path.join(root, '.git'), { recursive: true });
    expect(codeDescription(root)).toBeUndefined();
  });
});

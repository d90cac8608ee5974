// bin/bundle-current.js, tested here rather than beside it: everything in bin/ goes into the npm
// tarball. A fake apps/cli in a temp dir: a bundle, the list of its inputs, and sources whose
// times say which was written last.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLE_INPUTS_FILE, staleBundleInputs } from '../bin/bundle-current.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A fake apps/cli (`cli/` in a temp dir, so that `../relay/` stays inside it): `files` written at
 * the given times (seconds), and its URL ending in '/'.
 */
function fakeCli(files: Record<string, number>): { dir: string; url: URL } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mxcast-bundle-current-'));
  dirs.push(root);
  const dir = path.join(root, 'cli');
  for (const [file, time] of Object.entries(files)) {
    const full = path.join(dir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, file === BUNDLE_INPUTS_FILE ? '["src/a.ts","../relay/src/b.ts"]' : '');
    utimesSync(full, time, time);
  }
  return { dir, url: new URL(pathToFileURL(dir).href + '/') };
}

describe('staleBundleInputs', () => {
  it('is empty when the bundle is newer than every source it was built from', () => {
    const { url } = fakeCli({
      'src/a.ts': 1000,
      '../relay/src/b.ts': 1000,
      'dist/mxcast.js': 2000,
      [BUNDLE_INPUTS_FILE]: 2000,
    });
    expect(staleBundleInputs(url)).toEqual([]);
  });

  it('names each source saved after the build, a workspace package outside apps/cli too', () => {
    const { url } = fakeCli({
      'src/a.ts': 3000,
      '../relay/src/b.ts': 3000,
      'dist/mxcast.js': 2000,
      [BUNDLE_INPUTS_FILE]: 2000,
    });
    expect(staleBundleInputs(url)).toEqual(['src/a.ts', '../relay/src/b.ts']);
  });

  it('counts a source removed since the build as stale', () => {
    const { dir, url } = fakeCli({
      'src/a.ts': 1000,
      '../relay/src/b.ts': 1000,
      'dist/mxcast.js': 2000,
      [BUNDLE_INPUTS_FILE]: 2000,
    });
    rmSync(path.join(dir, 'src/a.ts'));
    expect(staleBundleInputs(url)).toEqual(['src/a.ts']);
  });

  it('names the bundle itself when there is none', () => {
    const { url } = fakeCli({ 'src/a.ts': 1000 });
    expect(staleBundleInputs(url)).toEqual(['dist/mxcast.js']);
  });

  it('is empty for a bundle built without the list: nothing to compare', () => {
    const { url } = fakeCli({ 'src/a.ts': 3000, 'dist/mxcast.js': 2000 });
    expect(staleBundleInputs(url)).toEqual([]);
  });
});

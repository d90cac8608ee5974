// Whether dist/mxcast.js was built from the workspace sources as they are now. bin/mxcast.js runs
// the TypeScript sources instead of a stale bundle, and `pnpm bench` rebuilds a stale bundle before
// it measures anything (bench/cli-bundle.ts), so a figure is always of the built command of the
// code in the tree. Plain JavaScript: the bin needs it before anything is compiled.
import { readFileSync, statSync } from 'node:fs';

/**
 * The list of sources the last build read, relative to apps/cli (apps/cli/scripts/bundle-cli.mjs
 * writes it; kept out of the npm tarball, since node_modules/.cache is never packed).
 */
export const BUNDLE_INPUTS_FILE = 'node_modules/.cache/mxcast-bundle-inputs.json';

/**
 * What makes the bundle under `cliDir` stale, relative to apps/cli: itself when it is missing,
 * else the sources the last build read that changed or went away since. Empty when the bundle is
 * current, or was built without the list (an installed package, or an older build script): then
 * there is nothing to compare.
 * @param {URL} cliDir apps/cli/ as a file URL, ending in '/'
 * @returns {string[]}
 */
export function staleBundleInputs(cliDir) {
  let built;
  try {
    built = statSync(new URL('dist/mxcast.js', cliDir)).mtimeMs;
  } catch {
    return ['dist/mxcast.js'];
  }
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(new URL(BUNDLE_INPUTS_FILE, cliDir), 'utf8'));
  } catch {
    return [];
  }
  return inputs.filter((/** @type {string} */ file) => {
    try {
      return statSync(new URL(file, cliDir)).mtimeMs > built;
    } catch {
      return true; // removed since the build
    }
  });
}

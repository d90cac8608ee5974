/**
 * The benchmarks start the `mxcast` command as a user does (apps/cli/bin/mxcast.js), which runs
 * the built bundle, or the TypeScript sources through tsx when the bundle is older than a source
 * it was built from. A benchmark must measure the built command of the code in the tree, never
 * one or the other depending on which file was saved last (a relay run from source is a different
 * program to V8: other modules, other code layout), so `pnpm bench` rebuilds a stale bundle
 * before it runs anything. MXCAST_SOURCE=1 (a diagnosis that benchmarks the sources on purpose)
 * leaves it alone.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { staleBundleInputs } from '../apps/cli/bin/bundle-current.js';

const run = promisify(execFile);
const cliDir = new URL('../apps/cli/', import.meta.url);
/** A path staleBundleInputs gives (relative to apps/cli) as the repository names it. */
const fromRoot = (file: string | undefined) => path.posix.join('apps/cli', file ?? '');

/**
 * Rebuilds apps/cli/dist when it is missing or stale (`node scripts/bundle-cli.mjs`, what
 * `pnpm --filter @mxcast/cli build` runs), saying so through `log`; throws when the build fails
 * or leaves it stale. Returns what made it stale (empty: it was current).
 */
export async function ensureCliBundle(log: (line: string) => void): Promise<string[]> {
  if (process.env.MXCAST_SOURCE === '1') return [];
  const stale = staleBundleInputs(cliDir);
  if (stale.length === 0) return [];
  const more = stale.length > 1 ? ` and ${stale.length - 1} more` : '';
  log(`bench: the mxcast bundle is older than ${fromRoot(stale[0])}${more}: rebuilding it…`);
  const started = performance.now();
  try {
    await run(process.execPath, ['scripts/bundle-cli.mjs'], { cwd: cliDir });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`building the mxcast bundle failed${stderr ? `: ${stderr}` : ''}`, {
      cause: err,
    });
  }
  const still = staleBundleInputs(cliDir);
  if (still.length > 0)
    throw new Error(`the mxcast bundle is still older than ${fromRoot(still[0])}`);
  log(`bench: rebuilt the mxcast bundle in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return stale;
}

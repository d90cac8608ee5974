#!/usr/bin/env node
// The `mxcast` command. It runs the compiled bundle, dist/mxcast.js (`pnpm --filter @mxcast/cli
// build`, run by scripts/setup.sh; the npm tarball ships only this and its chunks in dist/chunks/,
// the Matrix client's among them, loaded only with --homeserver), so a start loads a few
// JavaScript files and compiles no TypeScript. In a checkout it runs the TypeScript sources
// through tsx instead when asked (MXCAST_SOURCE=1), under vitest (its tests must see the source
// being edited), when there is no build yet, or when a source file is newer than the build.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { staleBundleInputs } from './bundle-current.js';

// Node ≥ 22.1 keeps V8's compiled code of the modules it loads on disk (in the OS temp dir):
// later starts skip most parsing. Node 20 has no such API and starts without it.
module.enableCompileCache?.();

const cliDir = new URL('../', import.meta.url);
const bundle = new URL('dist/mxcast.js', cliDir);
const source = new URL('src/main.ts', cliDir);

// MXCAST_SOURCE=0 insists on the bundle (bench/startup-bench.ts measures it as built).
const choice = process.env.MXCAST_SOURCE;
const wantSource = choice === '1' || (choice !== '0' && process.env.VITEST !== undefined);
const useSource =
  existsSync(source) &&
  (wantSource || !existsSync(bundle) || (choice !== '0' && staleBundleInputs(cliDir).length > 0));

let main;
if (useSource) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(bundle.href));
}
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// The `mxcast` command. It runs the compiled bundle, dist/mxcast.js (`pnpm --filter @mxcast/cli
// build`, run by scripts/setup.sh; the npm tarball ships only this), so a start loads one
// JavaScript file and compiles no TypeScript. It runs the TypeScript sources through tsx instead
// when asked (MXCAST_SOURCE=1), under vitest (its tests must see the source being edited, not
// the last build), or when this checkout has no build yet.
import { existsSync } from 'node:fs';
import module from 'node:module';

// Node ≥ 22.1 keeps V8's compiled code of the modules it loads on disk (in the OS temp dir):
// later starts skip most parsing. Node 20 has no such API and starts without it.
module.enableCompileCache?.();

const bundle = new URL('../dist/mxcast.js', import.meta.url);
const source = new URL('../src/main.ts', import.meta.url);
const wantSource = process.env.MXCAST_SOURCE === '1' || process.env.VITEST !== undefined;
const useSource = existsSync(source) && (wantSource || !existsSync(bundle));

let main;
if (useSource) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(bundle.href));
}
process.exitCode = await main(process.argv.slice(2));

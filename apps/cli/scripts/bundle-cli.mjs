// Builds the compiled `mxcast` command: one ES module, dist/mxcast.js, holding the CLI, every
// workspace package it uses (relay, capture, player, client, protocol, format, ogg, audio) and
// their pure-JavaScript npm dependencies (hono, @hono/node-server, ws, zod …).
// Why one bundle: the workspace packages are TypeScript "just-in-time packages" (their `exports`
// point at src/*.ts, which vitest, vite and tsc keep using) and private, so an npm tarball could
// not depend on them; and a start that loads one file instead of hundreds (zod alone is ~100
// modules) is what brings `mxcast --help` near an idle Node (bench/startup-bench.ts).
// Only the packages named in this package's `dependencies` stay imports, installed by npm:
// better-sqlite3 (a native addon, built for the installing Node), opusscript (loads its
// .wasm file from its own directory), and the Matrix client's matrix-js-sdk,
// @matrix-org/matrix-sdk-crypto-wasm (loads its .wasm next to its module), fake-indexeddb, and
// loglevel: matrix-js-sdk's loggers live in its loglevel module, so @mxcast/matrix's quiet
// logger must import that same installed copy, not a bundled second one (whose settings the
// sdk would never see: its logs would go to stdout).
// The Matrix code (@mxcast/matrix) is imported dynamically, only with --homeserver: code
// splitting puts it in a chunk of its own (dist/chunks/), because an ES module's imports of
// external packages are hoisted and would otherwise load matrix-js-sdk on every `mxcast --help`.
// The build fails if code imports another npm package
// that cannot be bundled. Licences of the bundled npm packages go to dist/third-party/.
// With --pack it also copies the built web app (apps/web/dist) to dist/web, where the relay
// looks for it next to the bundle (apps/cli/src/commands/relay-command.ts).
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_INPUTS_FILE } from '../bin/bundle-current.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(cliDir, 'dist');
const pkg = JSON.parse(readFileSync(path.join(cliDir, 'package.json'), 'utf8'));
const external = new Set(Object.keys(pkg.dependencies ?? {}));
const builtins = new Set(builtinModules);
// ws requires these native speed-ups inside try/catch; without them it uses plain JS.
const optional = new Set(['bufferutil', 'utf-8-validate']);

/** The npm package an import specifier names ('@scope/name/sub' → '@scope/name'). */
function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

/** Node built-ins and this package's `dependencies` stay imports; the rest is bundled. */
const externals = {
  name: 'externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || builtins.has(args.path)) {
        return { path: args.path, external: true };
      }
      const name = packageOf(args.path);
      if (external.has(name) || optional.has(name)) return { path: args.path, external: true };
      return undefined;
    });
  },
};

// No clean first: a failed build (a half-edited source) leaves the last good bundle in place.
const result = await build({
  entryPoints: { mxcast: path.join(cliDir, 'src/main.ts') },
  outdir: dist,
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  target: 'node20.19',
  // Bundled CommonJS packages (ws) call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __mxcastRequire } from 'node:module';\nconst require = __mxcastRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: cliDir, // metafile paths are relative to it
  plugins: [externals],
});

// Chunks of earlier builds (their names carry a content hash) are not this build's.
const chunkDir = path.join(dist, 'chunks');
const ours = new Set(Object.keys(result.metafile.outputs).map((f) => path.resolve(cliDir, f)));
if (existsSync(chunkDir)) {
  for (const f of readdirSync(chunkDir)) {
    if (!ours.has(path.join(chunkDir, f))) rmSync(path.join(chunkDir, f));
  }
}

// The workspace sources this bundle was built from, for the bin to notice a stale bundle in a
// checkout (kept out of the tarball: node_modules/.cache is never packed).
const sources = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
mkdirSync(path.join(cliDir, 'node_modules/.cache'), { recursive: true });
writeFileSync(path.join(cliDir, BUNDLE_INPUTS_FILE), JSON.stringify(sources) + '\n');

// The licence file of every npm package whose code is now inside dist/mxcast.js.
const thirdParty = path.join(dist, 'third-party');
rmSync(thirdParty, { recursive: true, force: true });
const roots = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/@][^/]*)\//);
  if (m) roots.add(path.resolve(cliDir, m[1]));
}
for (const root of roots) {
  const { name } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const licences = readdirSync(root).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f));
  if (licences.length === 0) {
    console.error(`bundle-cli: ${name} (${root}) has no licence file to ship with the bundle`);
    process.exit(1);
  }
  mkdirSync(path.join(thirdParty, name), { recursive: true });
  for (const file of licences) cpSync(path.join(root, file), path.join(thirdParty, name, file));
}

if (process.argv.includes('--pack')) {
  const web = path.resolve(cliDir, '../web/dist');
  if (!existsSync(path.join(web, 'index.html'))) {
    console.error(
      'bundle-cli: apps/web/dist is not built (npm start builds it, or: bash scripts/pnpm.sh --filter @mxcast/web run build)',
    );
    process.exit(1);
  }
  rmSync(path.join(dist, 'web'), { recursive: true, force: true });
  cpSync(web, path.join(dist, 'web'), { recursive: true });
}

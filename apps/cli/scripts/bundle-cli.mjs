// Builds the compiled `mxcast` command: one ES module, dist/mxcast.js, holding the CLI and every
// workspace package it uses (relay, capture, player, client, protocol, format, ogg, audio).
// Why one bundle: the workspace packages are TypeScript "just-in-time packages" (their `exports`
// point at src/*.ts, which vitest, vite and tsc keep using), and they are private, so an npm
// tarball could not depend on them. Bundling them makes the bin start without tsx (one file to
// load, no TypeScript compile per start) and makes `npm pack` of this package self-contained.
// npm packages (better-sqlite3 is native; ws, hono, tus-js-client, opusscript) stay external
// and must be listed in this package's `dependencies`, which the build checks.
// With --pack it also copies the built web app (apps/web/dist) to dist/web, where the relay
// looks for it next to the bundle (apps/cli/src/commands/relay-command.ts).
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(cliDir, 'package.json'), 'utf8'));
const declared = new Set(Object.keys(pkg.dependencies ?? {}));
const builtins = new Set(builtinModules);

/** The npm package an import specifier names ('@scope/name/sub' → '@scope/name'). */
function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

const undeclared = new Set();
/** Workspace code (@mxcast/*, relative paths) is bundled; npm packages stay imports. */
const externalNpm = {
  name: 'external-npm',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || builtins.has(args.path)) {
        return { path: args.path, external: true };
      }
      const name = packageOf(args.path);
      if (name.startsWith('@mxcast/')) return undefined;
      if (!declared.has(name)) undeclared.add(`${name} (imported by ${args.importer})`);
      return { path: args.path, external: true };
    });
  },
};

// No clean first: a failed build (a half-edited source) leaves the last good bundle in place.
await build({
  entryPoints: { mxcast: path.join(cliDir, 'src/main.ts') },
  outdir: path.join(cliDir, 'dist'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // The exports maps name TypeScript sources under the default condition; nothing to pick.
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [externalNpm],
});
if (undeclared.size > 0) {
  console.error(
    'bundle-cli: these npm packages are imported but missing from apps/cli/package.json ' +
      `dependencies (an installed tarball would lack them):\n  ${[...undeclared].join('\n  ')}`,
  );
  process.exit(1);
}

if (process.argv.includes('--pack')) {
  const web = path.resolve(cliDir, '../web/dist');
  if (!existsSync(path.join(web, 'index.html'))) {
    console.error('bundle-cli: apps/web/dist is not built (pnpm --filter @mxcast/web run build)');
    process.exit(1);
  }
  rmSync(path.join(cliDir, 'dist/web'), { recursive: true, force: true });
  cpSync(web, path.join(cliDir, 'dist/web'), { recursive: true });
}

/**
 * The relay's folders are layers with one-way arrows (docs/architecture.md "Relay layers"):
 * adapter → app → routes → core → storage → fanout, each allowed to use only the layers below it.
 * This test reads every source file's imports with TypeScript's own scanner (ts.preProcessFile:
 * static imports, re-exports and dynamic import()) and fails on any edge not in the table, so an
 * arrow pointing back cannot come in unnoticed. Test files and testing/ (fixtures that start a
 * whole relay) are outside the rule; index.ts is the package's entry and may use any layer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Each layer and the layers it may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  adapter: ['app', 'routes', 'core', 'storage', 'fanout'],
  app: ['routes', 'core', 'storage', 'fanout'],
  routes: ['core', 'storage', 'fanout'],
  core: ['storage', 'fanout'],
  storage: ['fanout'],
  fanout: [],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** The layer of a file under src/ (its first folder), or null for the entry and test support. */
function layerOf(file: string): string | null {
  const rel = relative(SRC, file).split(sep);
  if (rel.length < 2 || rel[0] === 'testing' || file.endsWith('.test.ts')) return null;
  return rel[0] ?? null;
}

/** Every relative import of the file, as [importing file, imported file] (absolute paths). */
function relativeImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name));
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (from === null) continue;
    for (const target of relativeImports(file)) {
      const rel = relative(SRC, target).split(sep);
      const to = rel.length < 2 ? 'index' : (rel[0] ?? 'index');
      if (to === from) continue;
      if (!(ALLOWED[from] ?? []).includes(to))
        found.push(`${relative(SRC, file)} → ${relative(SRC, target)} (${from} → ${to})`);
    }
  }
  return found;
}

describe('relay layers', () => {
  it('every folder under src/ is a known layer (a new one needs a row in the table)', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'testing')
      .map((e) => e.name)
      .sort();
    expect(folders).toEqual(Object.keys(ALLOWED).sort());
  });

  it('imports only point down the layers', () => {
    expect(violations()).toEqual([]);
  });

  it('the scanner sees the kinds of import it guards (static, type-only, re-export, dynamic)', () => {
    const text = [
      "import { a } from '../routes/x.ts';",
      "import type { B } from '../app/y.ts';",
      "export { c } from '../adapter/z.ts';",
      "const d = await import('../core/w.ts');",
    ].join('\n');
    const names = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    expect(names).toEqual(['../routes/x.ts', '../app/y.ts', '../adapter/z.ts', '../core/w.ts']);
  });
});

/**
 * The protocol home stays pure (docs/protocol.md "Where the protocol is coded"): the relay,
 * Node clients and browsers all load it, so its sources import only each other and
 * @mxcast/format's types, and touch no Node or DOM global. The typecheck cannot tell (the
 * workspace's tsconfig loads Node's types for every package), so this test reads the sources.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = import.meta.dirname;
const sources = readdirSync(SRC).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

/** Code without comments and string contents, so prose and messages cannot trip the checks. */
function codeOf(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''")
    .replace(/`(?:[^`\\]|\\.)*`/g, '``');
}

describe('@mxcast/protocol purity', () => {
  it('has sources to check', () => {
    expect(sources).toContain('index.ts');
    expect(sources.length).toBeGreaterThanOrEqual(6);
  });

  it('imports only its own files and @mxcast/format types', () => {
    for (const file of sources) {
      const text = readFileSync(join(SRC, file), 'utf8');
      const imports = [...text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)];
      for (const m of imports) {
        const [, , typeOnly, from] = m;
        const ok = from!.startsWith('./') || (from === '@mxcast/format' && typeOnly !== undefined);
        expect(ok, `${file} imports '${from}'${typeOnly ? ' (types)' : ''}`).toBe(true);
      }
      expect(/\bimport\s*\(|\brequire\s*\(/.test(codeOf(text)), `${file}: dynamic import`).toBe(
        false,
      );
    }
  });

  it('uses no Node or DOM global', () => {
    const globals =
      /\b(Buffer|process|global|window|document|navigator|fetch|WebSocket|setTimeout|setInterval|crypto)\b/;
    for (const file of sources) {
      const m = globals.exec(codeOf(readFileSync(join(SRC, file), 'utf8')));
      expect(m?.[0], `${file} uses ${m?.[0]}`).toBeUndefined();
    }
  });
});

/**
 * The project stands on its own: no source, bench, test or doc file cites a design file, source
 * documents or issue numbers that are not in the repository. Decisions live in docs/ and code
 * cites docs/ or the specs (RFC, MSC4016, tus 1.0). Files git tracks are read as they are in the
 * working tree; built bundles (dist/) are left out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Built from parts so that this file does not match itself.
const OUTSIDE_REFERENCES = [
  new RegExp(['DESIGN', '\\.md'].join('')),
  new RegExp(['seeds', '/0'].join('')),
  new RegExp(['\\bissue', ' #?\\d'].join(''), 'i'),
  new RegExp(['\\bthe issue', '\\b'].join(''), 'i'),
];

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, maxBuffer: 64 << 20 });
  return out
    .toString()
    .split('\0')
    .filter((f) => /\.(ts|tsx|js|mjs|c|h|md|sh)$/.test(f))
    .filter((f) => !/(^|\/)(dist|node_modules)\//.test(f));
}

describe('the repository stands on its own', () => {
  it('no file cites a design file, seed documents or issue numbers from outside it', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(100);
    const hits: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(path.join(root, file), 'utf8');
      } catch {
        continue; // deleted in the working tree, not yet committed
      }
      text.split('\n').forEach((line, i) => {
        if (OUTSIDE_REFERENCES.some((re) => re.test(line)))
          hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});

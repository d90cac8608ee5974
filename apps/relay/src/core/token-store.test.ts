/**
 * The token store's refusals are RelayErrors with Matrix codes (docs/errors.md), not plain
 * Errors: the CLI prints their message, an HTTP route would answer their JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayError } from './relay-error.ts';
import { RelayDatabase } from '../storage/relay-database.ts';
import { createToken, hashToken, issueToken, listTokens, revokeTokens } from './token-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'mxcast-token-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(run: () => unknown): RelayError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    return err as RelayError;
  }
  throw new Error('expected a refusal');
}

describe('token store refusals', () => {
  it('a bad user id or token id is M_INVALID_PARAM (400), and nothing is stored', () => {
    const bad = refusal(() => createToken(dir, 'alice'));
    expect([bad.code, bad.status]).toEqual(['M_INVALID_PARAM', 400]);
    expect(bad.message).toMatch(/not a Matrix user id: 'alice'/);
    expect(listTokens(dir)).toEqual([]);
    const id = refusal(() => revokeTokens(dir, { id: 'zz' }));
    expect([id.code, id.message]).toEqual(['M_INVALID_PARAM', "not a token id: 'zz'"]);
  });

  it('an id shared by two tokens is refused, not guessed; both stay', () => {
    // Ids are hex prefixes of the hash: issue tokens until two share a 4-digit prefix
    // (birthday bound: about 320 of 65536 prefixes on average; 5000 makes a miss negligible).
    const db = new RelayDatabase(dir);
    const seen = new Set<string>();
    let shared: string | undefined;
    try {
      for (let i = 0; i < 5000 && !shared; i++) {
        const prefix = hashToken(issueToken(db, '@bob:localhost')).slice(0, 4);
        if (seen.has(prefix)) shared = prefix;
        seen.add(prefix);
      }
    } finally {
      db.close();
    }
    expect(shared).toBeDefined();
    const before = listTokens(dir).length;
    const err = refusal(() => revokeTokens(dir, { id: shared as string }));
    expect(err.code).toBe('M_INVALID_PARAM');
    expect(err.message).toMatch(/names 2 tokens: give more digits/);
    expect(listTokens(dir)).toHaveLength(before);
  });

  it('no database under --data is M_NOT_FOUND (404)', () => {
    const err = refusal(() => listTokens(join(dir, 'missing')));
    expect([err.code, err.status]).toEqual(['M_NOT_FOUND', 404]);
    expect(err.message).toMatch(/no relay database in .*missing/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { findIcecast } from './icecast-server.ts';

const path = process.env.PATH;
afterEach(() => {
  process.env.PATH = path;
});

describe('findIcecast', () => {
  it('says how to install Icecast when it is not on PATH', () => {
    process.env.PATH = '/nonexistent';
    const found = findIcecast();
    expect(found).toEqual({ missing: expect.stringContaining('apt-get install -y icecast2') });
  });

  it('finds the installed icecast2 and its version', () => {
    const found = findIcecast();
    // The bench machine has Debian's icecast2 (the peer); elsewhere the first case covers it.
    if ('missing' in found) expect(found.missing).toMatch(/pnpm bench fanout/);
    else expect(found.version).toMatch(/^Icecast 2\.4/);
  });
});

import { describe, expect, it } from 'vitest';
import { formatMxc, matchMxc, mxcPathSegment } from './mxc-uri.ts';
import { INDEX_PATH, mediaPath, UNSTABLE_PREFIX } from './protocol-paths.ts';

describe('mxc URIs', () => {
  it('parses server names with ports and IPv6 literals', () => {
    expect(matchMxc('mxc://relay.example:8448/AbC_d-1')).toEqual({
      serverName: 'relay.example:8448',
      mediaId: 'AbC_d-1',
      uri: 'mxc://relay.example:8448/AbC_d-1',
    });
    expect(matchMxc('mxc://[::1]:8008/abc')?.serverName).toBe('[::1]:8008');
    expect(formatMxc('localhost', 'xyz')).toBe('mxc://localhost/xyz');
  });

  it('refuses anything else', () => {
    for (const uri of [
      'https://h/abc',
      'mxc://h/',
      'mxc:///abc',
      'mxc://h/a/b',
      'mxc://h/a%2Fb',
      'mxc://h/ab c',
      'mxc://h o/abc',
      'mxc://h/abc?x=1',
    ]) {
      expect(matchMxc(uri), uri).toBeNull();
    }
  });

  it('builds the relay paths from the parts', () => {
    const mxc = matchMxc('mxc://[::1]:8008/abc');
    expect(mxc).not.toBeNull();
    expect(mxcPathSegment(mxc!)).toBe('%5B%3A%3A1%5D%3A8008/abc');
    expect(mediaPath(INDEX_PATH, mxc!)).toBe(`${UNSTABLE_PREFIX}/index/%5B%3A%3A1%5D%3A8008/abc`);
  });
});

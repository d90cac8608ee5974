/** `pnpm bench reload-live --hours= --n= --hold=`: a narrowed run, bad values refused. */
import { describe, expect, it } from 'vitest';
import { parseReloadLiveArgs } from './reload-live-bench.ts';

describe('parseReloadLiveArgs', () => {
  it('keeps the whole bench when nothing narrows it', () => {
    expect(parseReloadLiveArgs(['reload-live', '--quick'])).toEqual({});
  });

  it('narrows the archive length (hours, fractions allowed), listeners and hold (seconds)', () => {
    expect(parseReloadLiveArgs(['--hours=0.05', '--n=20', '--hold=2'])).toEqual({
      hours: 0.05,
      listeners: 20,
      holdMs: 2000,
    });
  });

  it('refuses a value that is not a positive number', () => {
    expect(() => parseReloadLiveArgs(['--n=many'])).toThrow('bad --n=many');
    expect(() => parseReloadLiveArgs(['--hold=0'])).toThrow('bad --hold=0');
  });
});

/**
 * Homeserver mode and interrupted broadcasts in the `--config` file (core/config-file.ts): the
 * new keys are accepted, validated with a one-line error naming the field, and shown by
 * `--print-config`.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, printableConfig } from './config-file.ts';
import { resolveConfig } from './relay-config.ts';

describe('config file: homeserver mode and idle limits', () => {
  it('accepts auth.homeserver and the new limits, and prints them', () => {
    const loaded = parseConfig(
      {
        auth: { homeserver: 'https://matrix.example.org' },
        limits: { interruptedAfterMs: 5000, maxIdleLiveMs: 60_000, whoamiCacheTtlMs: 0 },
      },
      'test.json',
    );
    const config = resolveConfig({ dataDir: '/tmp/unused', ...loaded.options });
    expect(config.auth.homeserver).toBe('https://matrix.example.org');
    expect(config.limits).toMatchObject({
      interruptedAfterMs: 5000,
      maxIdleLiveMs: 60_000,
      whoamiCacheTtlMs: 0,
      maxWhoamiInFlight: 64,
    });
    const printed = printableConfig(config, { level: 'info', format: 'text' });
    expect(printed.auth).toMatchObject({ homeserver: 'https://matrix.example.org' });
  });

  it('refuses a homeserver that is not an http(s) URL, and a negative limit, naming the field', () => {
    expect(() => parseConfig({ auth: { homeserver: 'matrix.example.org' } }, 'a.json')).toThrow(
      /^config a\.json: auth\.homeserver must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(() => parseConfig({ auth: { homserver: 'https://x' } }, 'b.json')).toThrow(
      /unknown key 'homserver' in auth \(allowed: requireTokenForDownload, homeserver\)/,
    );
    expect(() => parseConfig({ limits: { interruptedAfterMs: -1 } }, 'c.json')).toThrow(
      /limits\.interruptedAfterMs must be a number >= 0/,
    );
  });
});

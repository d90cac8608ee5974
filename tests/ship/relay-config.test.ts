/**
 * `mxcast relay --config FILE` and `--print-config` (docs/operations.md "Configuration file"): a
 * bad file stops the relay with one line naming the field and what it accepts (exit 2); the
 * effective configuration is file, then flags over it, then defaults, with no secret in it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '@mxcast/relay';
import { runMxcast, tempDir } from '../capture/capture-harness.ts';

function configFile(value: unknown): string {
  const file = path.join(tempDir('mxcast-config-'), 'relay.json');
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

async function relay(args: string[]) {
  return runMxcast(['relay', ...args]).done;
}

describe('mxcast relay --config', () => {
  it.each([
    [
      { limits: { maxListenrs: 5 } },
      /unknown key 'maxListenrs' in limits \(allowed: maxMediaBytes, .*listenerStallMs\)$/,
    ],
    [{ limits: { maxListeners: -1 } }, /limits\.maxListeners must be a number >= 0, got -1$/],
    [{ limits: { maxListeners: '5' } }, /limits\.maxListeners must be a number >= 0, got "5"$/],
    [{ port: 70000 }, /port must be an integer 0\.\.65535, got 70000$/],
    [{ log: { level: 'loud' } }, /log\.level must be one of error\|warn\|info\|debug, got "loud"$/],
    [{ log: { format: 'xml' } }, /log\.format must be one of text\|json, got "xml"$/],
    [
      { auth: { requireTokenForDownload: 'yes' } },
      /auth\.requireTokenForDownload must be true or false, got "yes"$/,
    ],
    [
      { publicUrl: 'ftp://relay' },
      /publicUrl must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/relay"$/,
    ],
    [{ fanoutSliceSize: 0.5 }, /fanoutSliceSize must be an integer >= 1, got 0\.5$/],
    [{ listen: 1 }, /unknown key 'listen' \(allowed: dataDir, host, port, .*log\)$/],
    [[1, 2], /: expected a JSON object$/],
    ['{"limits": ', /cannot read config .*JSON/],
  ])('refuses %j with one line naming the field (exit 2)', async (value, message) => {
    const file = configFile(value);
    const r = await relay(['--config', file, '--port', '0']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(file);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('refuses an unknown --log-level or --log-format naming the allowed values (exit 2)', async () => {
    const a = await relay(['--log-level', 'verbose', '--print-config']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--log-level must be one of error|warn|info|debug, got 'verbose'");
    const b = await relay(['--log-format', 'xml', '--print-config']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--log-format must be one of text|json, got 'xml'");
  });

  it('--print-config prints file + flags + defaults as JSON, exit 0, without secrets', async () => {
    const dir = tempDir('mxcast-print-config-');
    const file = path.join(dir, 'relay.json');
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: 'data',
        port: 9000,
        host: '0.0.0.0',
        publicUrl: 'https://operator:hunter2@relay.example.org',
        limits: { maxListeners: 7, maxMediaBytes: 1000 },
        log: { level: 'warn', format: 'json' },
      }),
    );
    const r = await relay([
      '--config',
      file,
      '--port',
      '9100',
      '--log-format',
      'text',
      '--print-config',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({
      dataDir: path.join(dir, 'data'), // relative to the config file
      host: '0.0.0.0', // the file's
      port: 9100, // the flag wins over the file
      serverName: 'localhost', // the default
      publicUrl: 'https://relay.example.org',
      log: { level: 'warn', format: 'text' },
      auth: { requireTokenForDownload: false },
    });
    expect(printed.limits).toEqual({ ...DEFAULT_LIMITS, maxListeners: 7, maxMediaBytes: 1000 });
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).not.toContain('operator');
  });
});

/**
 * The files of deploy/ an operator copies: the systemd unit passes systemd's own checks with
 * the hardening deploy/README.md promises, and the sample relay.json is a valid config whose
 * data dir is the one the unit lets the relay write.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, parseConfig, printableConfig, resolveConfig } from '@mxcast/relay';
import { root, tempDir } from '../capture/capture-harness.ts';

const unitFile = path.join(root, 'deploy/mxcast-relay.service');
const configFile = path.join(root, 'deploy/relay.json');

/** The unit with ExecStart pointing at a binary that exists here (verify checks it is there). */
function unitCopy(): string {
  const unit = readFileSync(unitFile, 'utf8');
  const copy = path.join(tempDir('mxcast-unit-'), 'mxcast-relay.service');
  writeFileSync(copy, unit.replace('/usr/local/bin/mxcast relay', '/bin/true relay'));
  return copy;
}

describe('deploy/', () => {
  it('the systemd unit runs `mxcast relay --config /etc/mxcast/relay.json` hardened, and systemd-analyze verifies it', () => {
    const unit = readFileSync(unitFile, 'utf8');
    expect(unit).toMatch(/^ExecStart=\S*\/mxcast relay --config \/etc\/mxcast\/relay\.json$/m);
    for (const line of [
      'User=mxcast',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/mxcast',
      'StateDirectory=mxcast',
      'Restart=on-failure',
    ])
      expect(unit.split('\n')).toContain(line);
    const copy = unitCopy();
    // Throws (and fails the test) on an unknown key, a bad value or a key in the wrong section.
    const out = execFileSync('systemd-analyze', ['verify', copy], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    expect(out).toBe('');
    const security = execFileSync('systemd-analyze', ['security', '--offline=yes', copy], {
      encoding: 'utf8',
    });
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(security)?.[1]);
    expect(exposure).toBeLessThanOrEqual(2);
  });

  it("relay.json is a valid config; its data dir is the unit's StateDirectory, every other limit keeps its default", () => {
    const loaded = parseConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
    const effective = printableConfig(resolveConfig({ dataDir: '', ...loaded.options }), {
      level: loaded.log.level ?? 'info',
      format: loaded.log.format ?? 'text',
    });
    expect(effective).toMatchObject({
      dataDir: '/var/lib/mxcast',
      host: '127.0.0.1',
      port: 8008,
      publicUrl: 'https://relay.example.org',
      log: { level: 'info', format: 'text' },
    });
    const limits = effective.limits as Record<string, number>;
    expect(limits.maxConnectionsPerAddress).toBe(DEFAULT_LIMITS.maxConnections);
    for (const [k, v] of Object.entries(DEFAULT_LIMITS))
      if (k !== 'maxConnectionsPerAddress') expect(limits[k], k).toBe(v);
    // The nginx site proxies to the port the config listens on.
    const site = readFileSync(path.join(root, 'deploy/nginx-mxcast.conf'), 'utf8');
    expect(site).toContain(`server 127.0.0.1:${String(effective.port)};`);
  });
});

/**
 * Cluster mode in the `--config` file (core/config-file.ts) and in `--cluster`
 * (core/cluster-token-store.ts parseClusterServers): `cluster.servers` and `cluster.replicas` are
 * accepted, shown by `--print-config`, and refused with a one-line error naming the field.
 */
import { describe, expect, it } from 'vitest';
import { parseClusterServers } from './cluster-token-store.ts';
import { parseConfig, printableConfig } from './config-file.ts';
import { resolveConfig } from './relay-config.ts';

describe('config file: cluster mode', () => {
  it('accepts cluster.servers and replicas, prints them, and is null when embedded', () => {
    const loaded = parseConfig(
      {
        cluster: { servers: ['nats://10.0.0.1:4222', 'tls://nats.example.org:4222'], replicas: 3 },
      },
      'test.json',
    );
    const config = resolveConfig({ dataDir: '/tmp/unused', ...loaded.options });
    expect(config.cluster).toEqual({
      servers: ['nats://10.0.0.1:4222', 'tls://nats.example.org:4222'],
      replicas: 3,
    });
    expect(printableConfig(config, { level: 'info', format: 'text' }).cluster).toEqual(
      config.cluster,
    );
    const embedded = resolveConfig({ dataDir: '/tmp/unused' });
    expect(printableConfig(embedded, { level: 'info', format: 'text' }).cluster).toBeNull();
  });

  it('refuses a server that is not nats://HOST:PORT, none, or an unknown key, naming the field', () => {
    expect(() => parseConfig({ cluster: { servers: ['http://x:4222'] } }, 'a.json')).toThrow(
      /^config a\.json: cluster\.servers\.0 must be a nats:\/\/HOST:PORT URL/,
    );
    expect(() => parseConfig({ cluster: { servers: [] } }, 'b.json')).toThrow(
      /cluster\.servers must name at least one server/,
    );
    expect(() =>
      parseConfig({ cluster: { servers: ['nats://x:1'], server: 'x' } }, 'c.json'),
    ).toThrow(/unknown key 'server' in cluster \(allowed: servers, replicas\)/);
    expect(() =>
      parseConfig({ cluster: { servers: ['nats://x:1'], replicas: 7 } }, 'd.json'),
    ).toThrow(/cluster\.replicas must be an integer 1\.\.5/);
  });

  it('parses --cluster: a comma-separated list, each nats:// or tls:// with a port', () => {
    expect(parseClusterServers('nats://a:4222, nats://b:4223,')).toEqual([
      'nats://a:4222',
      'nats://b:4223',
    ]);
    expect(() => parseClusterServers('a:4222')).toThrow(/not a nats:\/\/HOST:PORT URL: 'a:4222'/);
    expect(() => parseClusterServers('nats://a')).toThrow(/not a nats:\/\/HOST:PORT URL/);
    expect(() => parseClusterServers(' , ')).toThrow(/no server given/);
  });
});

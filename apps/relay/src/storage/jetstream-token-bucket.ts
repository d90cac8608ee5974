/**
 * Standalone tokens in a cluster: the JetStream key-value bucket `mxcast-tokens` (key = the
 * token's sha256 hex, value = JSON `{user_id, created_at}`; never the token). Shared by the relay
 * nodes (jetstream-media-storage.ts) and `mxcast token … --cluster`, which opens only this bucket
 * so a token command never creates or reconfigures the block stream.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { TokenRow } from './relay-database.ts';

export const TOKEN_BUCKET = 'mxcast-tokens';

export class JetStreamTokenBucket {
  constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the bucket on a connection with `replicas` Raft replicas. */
  static async open(nc: NatsConnection, replicas: number): Promise<JetStreamTokenBucket> {
    return new JetStreamTokenBucket(
      await new Kvm(nc).create(TOKEN_BUCKET, { replicas, history: 1 }),
    );
  }

  /** Connects to `servers`, runs `use` on the bucket, closes the connection. */
  static async with<T>(
    servers: string[],
    use: (bucket: JetStreamTokenBucket) => Promise<T>,
  ): Promise<T> {
    const nc = await connect({ servers, name: 'mxcast-token', maxReconnectAttempts: 2 });
    try {
      return await use(await JetStreamTokenBucket.open(nc, Math.min(3, servers.length)));
    } finally {
      await nc.close();
    }
  }

  async insert(tokenHash: string, userId: string, now: number): Promise<void> {
    await this.kv.put(tokenHash, JSON.stringify({ user_id: userId, created_at: now }));
  }

  async user(tokenHash: string): Promise<string | undefined> {
    const e = await this.kv.get(tokenHash);
    return e && e.operation === 'PUT' ? e.json<TokenRow>().user_id : undefined;
  }

  /** Every token, oldest first. */
  async list(): Promise<TokenRow[]> {
    const rows: TokenRow[] = [];
    for await (const key of await this.kv.keys()) {
      const e = await this.kv.get(key);
      if (e && e.operation === 'PUT')
        rows.push({ ...e.json<Omit<TokenRow, 'token_hash'>>(), token_hash: key });
    }
    return rows.sort((a, b) => a.created_at - b.created_at);
  }

  /** Deletes one token; true if it existed. */
  async delete(tokenHash: string): Promise<boolean> {
    const e = await this.kv.get(tokenHash);
    if (!e || e.operation !== 'PUT') return false;
    await this.kv.purge(tokenHash);
    return true;
  }
}

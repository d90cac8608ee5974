/**
 * Synapse's configuration for the development stack (docs/matrix.md), generated at each start:
 * a loopback-only homeserver with SQLite, no federation and nothing that reaches the network
 * (no URL previews, no identity server, no stats reporting, no trusted key servers), relaxed rate
 * limits for tests, and authenticated media (Matrix v1.11) as the relay's download path expects.
 * Written as JSON, which YAML 1.2 (Synapse's config format) reads as it is.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SynapseConfigOptions {
  /** The Matrix server name (`@user:{serverName}`). */
  serverName: string;
  /** The client listener's port on 127.0.0.1. */
  port: number;
  /** The stack's directory as Synapse sees it (inside the chroot). */
  dir: string;
  /** The same directory on the host, where the files are written. */
  hostDir: string;
  /** `public_baseurl`: nginx in front. */
  publicBaseUrl: string;
  /** Shared secret of the admin registration API (and register_new_matrix_user). */
  registrationSharedSecret: string;
}

/** Rate limits high enough that no test waits on them (Synapse's defaults are per-second few). */
const RELAXED = { per_second: 1000, burst_count: 1000 };

/** Writes homeserver.yaml, the log config and a signing key; returns the config's chroot path. */
export function writeSynapseConfig(o: SynapseConfigOptions): string {
  writeFileSync(path.join(o.hostDir, 'signing.key'), signingKey(), { mode: 0o600 });
  writeFileSync(path.join(o.hostDir, 'log.yaml'), JSON.stringify(logConfig(o.dir)));
  const config = {
    server_name: o.serverName,
    public_baseurl: o.publicBaseUrl,
    pid_file: path.join(o.dir, 'homeserver.pid'),
    listeners: [
      {
        port: o.port,
        bind_addresses: ['127.0.0.1'],
        type: 'http',
        tls: false,
        // nginx sets X-Forwarded-For (deploy/matrix/nginx-matrix.conf.template).
        x_forwarded: true,
        // The client API and the media repository only: no `federation` resource is served.
        resources: [{ names: ['client', 'media'], compress: false }],
      },
    ],
    database: { name: 'sqlite3', args: { database: path.join(o.dir, 'homeserver.db') } },
    log_config: path.join(o.dir, 'log.yaml'),
    media_store_path: path.join(o.dir, 'media_store'),
    signing_key_path: path.join(o.dir, 'signing.key'),
    registration_shared_secret: o.registrationSharedSecret,
    macaroon_secret_key: randomBytes(32).toString('hex'),
    form_secret: randomBytes(32).toString('hex'),
    enable_registration: false,
    enable_authenticated_media: true,
    max_upload_size: '50M',
    // Nothing leaves the machine.
    report_stats: false,
    federation_domain_whitelist: [],
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    url_preview_enabled: false,
    allow_public_rooms_over_federation: false,
    enable_metrics: false,
    presence: { enabled: false },
    // Tests register, log in, create rooms and send messages in bursts.
    rc_message: RELAXED,
    rc_registration: RELAXED,
    rc_joins: { local: RELAXED, remote: RELAXED },
    rc_invites: { per_room: RELAXED, per_user: RELAXED, per_issuer: RELAXED },
    rc_login: { address: RELAXED, account: RELAXED, failed_attempts: RELAXED },
    rc_admin_redaction: RELAXED,
    rc_media_create: RELAXED,
    rc_room_creation: RELAXED,
    rc_3pid_validation: RELAXED,
    rc_presence: { per_user: RELAXED },
    rc_delayed_event_mgmt: RELAXED,
  };
  const file = path.join(o.hostDir, 'homeserver.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path.join(o.dir, 'homeserver.yaml');
}

/** Synapse's signing key file: `ed25519 {key id} {unpadded base64 of the 32-byte seed}`. */
function signingKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  return `ed25519 a_${randomBytes(3).toString('hex')} ${seed.toString('base64').replace(/=+$/, '')}\n`;
}

/** Python logging dictConfig: warnings and errors to homeserver.log in the stack's directory. */
function logConfig(dir: string): object {
  return {
    version: 1,
    formatters: { precise: { format: '%(asctime)s %(name)s %(levelname)s %(message)s' } },
    handlers: {
      file: {
        class: 'logging.FileHandler',
        formatter: 'precise',
        filename: path.join(dir, 'homeserver.log'),
      },
    },
    root: { level: 'WARNING', handlers: ['file'] },
    disable_existing_loggers: false,
  };
}

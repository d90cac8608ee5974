/**
 * Users of the development stack: registration through Synapse's shared-secret admin API (what
 * `register_new_matrix_user` does, without starting a Python process), password login through
 * nginx (Matrix client-server API `/_matrix/client/v3/login`), and the user's relay token.
 */
import { createHmac } from 'node:crypto';
import { createToken } from '@mxcast/relay';
import type { MatrixStack } from './matrix-stack.ts';

export interface MatrixUser {
  userId: string;
  password: string;
  /** A Synapse access token (from registration, or `login`). */
  accessToken: string;
  deviceId: string;
  /** An upload token of the relay for the same user id (`mxcast token create`). */
  relayToken: string;
}

/** A Matrix API call that must succeed: the JSON answer, or an error naming errcode and path. */
export async function matrixCall<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  apiPath: string,
  options: { token?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${baseUrl}${apiPath}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${apiPath}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/**
 * Registers `localpart` with Synapse's shared-secret registration (Synapse admin API
 * `/_synapse/admin/v1/register`: HMAC-SHA1 over nonce, user, password and admin flag). Goes to
 * Synapse's own port: the admin API need not be exposed through nginx.
 */
export async function registerUser(
  stack: MatrixStack,
  localpart: string,
  password: string,
  options: { admin?: boolean } = {},
): Promise<MatrixUser> {
  const endpoint = '/_synapse/admin/v1/register';
  const { nonce } = await matrixCall<{ nonce: string }>(stack.synapseUrl, 'GET', endpoint);
  const admin = options.admin ?? false;
  const mac = createHmac('sha1', stack.registrationSharedSecret)
    .update([nonce, localpart, password, admin ? 'admin' : 'notadmin'].join('\0'))
    .digest('hex');
  const r = await matrixCall<{ user_id: string; access_token: string; device_id: string }>(
    stack.synapseUrl,
    'POST',
    endpoint,
    { body: { nonce, username: localpart, password, admin, mac } },
  );
  return {
    userId: r.user_id,
    password,
    accessToken: r.access_token,
    deviceId: r.device_id,
    relayToken: createToken(stack.relayDataDir, r.user_id),
  };
}

/** Password login through nginx: a fresh Synapse access token and device. */
export async function login(
  stack: MatrixStack,
  user: Pick<MatrixUser, 'userId' | 'password'>,
): Promise<{ accessToken: string; deviceId: string; userId: string }> {
  const r = await matrixCall<{ access_token: string; device_id: string; user_id: string }>(
    stack.url,
    'POST',
    '/_matrix/client/v3/login',
    {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: user.userId },
        password: user.password,
      },
    },
  );
  return { accessToken: r.access_token, deviceId: r.device_id, userId: r.user_id };
}

/** The `Authorization` header of a Matrix access token. */
export const bearer = (token: string): Record<string, string> => ({
  Authorization: `Bearer ${token}`,
});

/**
 * Uploads a PNG to the homeserver's own media repository (`POST /_matrix/media/v3/upload`, which
 * the shipped nginx routes to Synapse) and returns its `mxc://` URI; fails the test on a non-200.
 */
export async function uploadSynapseImage(
  baseUrl: string,
  accessToken: string,
  png: Uint8Array,
): Promise<string> {
  const up = await fetch(`${baseUrl}/_matrix/media/v3/upload?filename=tiny.png`, {
    method: 'POST',
    headers: { ...bearer(accessToken), 'Content-Type': 'image/png' },
    body: new Uint8Array(png),
  });
  if (up.status !== 200) throw new Error(`Synapse upload: ${up.status} ${await up.text()}`);
  return ((await up.json()) as { content_uri: string }).content_uri;
}

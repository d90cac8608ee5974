/**
 * The relay's block index (docs/protocol.md "Block index") and the URLs of one media on a relay.
 * Fetched with plain fetch so the core stays browser-safe.
 */
import type { ByteOrder } from '@mxcast/format';
import { PlayerError } from './player-error.ts';

export const MSC4016_PREFIX = '/_matrix/media/unstable/org.matrix.msc4016';

export interface RelayIndex {
  state: 'pending' | 'live' | 'complete' | 'cancelled';
  byte_length: number;
  block_count: number;
  byte_order: ByteOrder | null;
  header_end: number | null;
  block_size: number | null;
  first_offsets?: number[];
  offsets?: number[];
  geometry: Record<string, number> | null;
}

export interface MediaLocation {
  relayUrl: string;
  serverName: string;
  mediaId: string;
  accessToken?: string;
}

export function parseMxcUri(mxc: string): { serverName: string; mediaId: string } {
  const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(mxc);
  if (!m) throw new PlayerError('BAD_REQUEST', `'${mxc}' is not an mxc://server/id URI`, true);
  return { serverName: m[1] as string, mediaId: m[2] as string };
}

function base(loc: MediaLocation): string {
  return loc.relayUrl.replace(/\/+$/, '');
}

export function downloadUrl(loc: MediaLocation): string {
  return `${base(loc)}/_matrix/client/v1/media/download/${encodeURIComponent(loc.serverName)}/${encodeURIComponent(loc.mediaId)}`;
}

export function indexUrl(loc: MediaLocation): string {
  return `${base(loc)}${MSC4016_PREFIX}/index/${encodeURIComponent(loc.serverName)}/${encodeURIComponent(loc.mediaId)}`;
}

export function listenSocketUrl(
  loc: MediaLocation,
  from: 'live' | number,
  headers: boolean,
): string {
  const url = new URL(
    `${base(loc)}${MSC4016_PREFIX}/ws/${encodeURIComponent(loc.serverName)}/${encodeURIComponent(loc.mediaId)}`,
  );
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('from', String(from));
  if (headers) url.searchParams.set('headers', '1');
  if (loc.accessToken) url.searchParams.set('access_token', loc.accessToken);
  return url.toString();
}

export function authHeaders(loc: MediaLocation): Record<string, string> {
  return loc.accessToken ? { authorization: `Bearer ${loc.accessToken}` } : {};
}

/** Turns a relay's non-2xx answer into the player's error (Matrix JSON: {errcode, error}). */
export async function httpError(res: Response, what: string): Promise<PlayerError> {
  let errcode = '';
  let message = '';
  try {
    const body = (await res.json()) as { errcode?: string; error?: string };
    errcode = body.errcode ?? '';
    message = body.error ?? '';
  } catch {
    // not Matrix JSON: the status says enough
  }
  const detail = `${what}: HTTP ${res.status}${errcode ? ` ${errcode}` : ''}${message ? ` (${message})` : ''}`;
  const info = { status: res.status, errcode };
  if (res.status === 404 || res.status === 416)
    return new PlayerError('NOT_FOUND', detail, true, info);
  if (res.status === 401 || res.status === 403 || res.status === 429 || res.status === 400) {
    return new PlayerError('REFUSED', detail, true, info);
  }
  // 5xx and 504 M_NOT_YET_UPLOADED: worth retrying
  return new PlayerError('NETWORK', detail, false, info);
}

export async function fetchIndex(
  loc: MediaLocation,
  fetchFn: typeof fetch,
  signal?: AbortSignal,
  range?: { from: number; count: number },
): Promise<RelayIndex> {
  const url = new URL(indexUrl(loc));
  if (range) {
    url.searchParams.set('from', String(range.from));
    url.searchParams.set('count', String(range.count));
  }
  let res: Response;
  try {
    res = await fetchFn(url, { headers: authHeaders(loc), ...(signal ? { signal } : {}) });
  } catch (err) {
    throw new PlayerError('NETWORK', `index: ${(err as Error).message}`, false);
  }
  if (!res.ok) throw await httpError(res, 'index');
  return (await res.json()) as RelayIndex;
}

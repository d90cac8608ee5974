/**
 * The relay's block index (docs/protocol.md "Block index") and the URLs of one media on a relay.
 * Fetched with plain fetch so the core stays browser-safe. The paths, the mxc grammar and the
 * index's JSON type are @mxcast/protocol's: this file only adds the player's errors.
 */
import {
  DOWNLOAD_PATH,
  INDEX_PATH,
  LISTEN_WS_PATH,
  matchMxc,
  mediaIndexProblem,
  mediaPath,
  parseMatrixError,
  type MediaIndex,
} from '@mxcast/protocol';
import { PlayerError } from './player-error.ts';

/** The index as the relay serves it: @mxcast/protocol's MediaIndex under the player's old name. */
export type RelayIndex = MediaIndex;

export interface MediaLocation {
  relayUrl: string;
  serverName: string;
  mediaId: string;
  accessToken?: string;
}

export function parseMxcUri(mxc: string): { serverName: string; mediaId: string } {
  const m = matchMxc(mxc);
  if (!m) throw new PlayerError('BAD_REQUEST', `'${mxc}' is not an mxc://server/id URI`, true);
  return { serverName: m.serverName, mediaId: m.mediaId };
}

function base(loc: MediaLocation): string {
  return loc.relayUrl.replace(/\/+$/, '');
}

export function downloadUrl(loc: MediaLocation): string {
  return `${base(loc)}${mediaPath(DOWNLOAD_PATH, loc)}`;
}

export function indexUrl(loc: MediaLocation): string {
  return `${base(loc)}${mediaPath(INDEX_PATH, loc)}`;
}

export function listenSocketUrl(
  loc: MediaLocation,
  from: 'live' | number,
  headers: boolean,
): string {
  const url = new URL(`${base(loc)}${mediaPath(LISTEN_WS_PATH, loc)}`);
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
  let text = '';
  try {
    text = await res.text();
  } catch {
    // cut off: the status says enough
  }
  // Not Matrix JSON (a proxy's page): the status says enough.
  const m = parseMatrixError(text);
  const errcode = m?.errcode ?? '';
  const message = m?.error ?? '';
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
  let json: unknown;
  try {
    json = await res.json();
  } catch (err) {
    // Cut off mid-body, or a proxy's page instead of the relay's JSON: worth asking again.
    throw new PlayerError('NETWORK', `index: not JSON (${(err as Error).message})`, false);
  }
  const problem = mediaIndexProblem(json);
  if (problem) throw new PlayerError('NETWORK', `index: ${problem}`, false, { status: res.status });
  return json as RelayIndex;
}

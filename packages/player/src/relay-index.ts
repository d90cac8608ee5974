/**
 * The relay's block index (docs/protocol.md "Block index") and the URLs of one media on a relay.
 * Fetched with plain fetch so the core stays browser-safe. The paths, the mxc grammar and the
 * index's JSON type are @mxcast/protocol's: this file only adds the player's errors.
 */
import { readErrorBody, relayFailureOf } from '@mxcast/client';
import {
  DOWNLOAD_PATH,
  INDEX_PATH,
  LISTEN_WS_PATH,
  matchMxc,
  mediaIndexProblem,
  mediaPath,
  type MediaIndex,
} from '@mxcast/protocol';
import { PlayerError, playerCodeOf } from './player-error.ts';

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
  if (!m)
    throw new PlayerError('BAD_REQUEST', `'${mxc}' is not an mxc://server/id URI`, { fatal: true });
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
  // Not Matrix JSON (a proxy's page), or cut off: the status says enough.
  const { matrix: m } = await readErrorBody(res);
  const errcode = m?.errcode ?? '';
  const message = m?.error ?? '';
  const detail = `${what}: HTTP ${res.status}${errcode ? ` ${errcode}` : ''}${message ? ` (${message})` : ''}`;
  // The code is the shared relay failure (docs/errors.md); whether to retry is the player's call.
  const code = playerCodeOf(relayFailureOf(res.status, errcode));
  return new PlayerError(code, detail, {
    fatal: FATAL_STATUSES.has(res.status),
    status: res.status,
    errcode,
  });
}

/**
 * Answers a retry cannot cure: they end playback at once. Anything else (5xx, 504
 * M_NOT_YET_UPLOADED, an odd 4xx from a proxy) is retried by the reconnect loop; a 429 is
 * retried by the index fetch only (index-fetch-retry.ts), where waiting is what it asks for.
 */
const FATAL_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 416, 429]);

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
    throw new PlayerError('NETWORK', `index: ${(err as Error).message}`, {
      fatal: false,
      cause: err,
    });
  }
  if (!res.ok) throw await httpError(res, 'index');
  let json: unknown;
  try {
    json = await res.json();
  } catch (err) {
    // Cut off mid-body, or a proxy's page instead of the relay's JSON: worth asking again.
    throw new PlayerError('NETWORK', `index: not JSON (${(err as Error).message})`, {
      fatal: false,
      cause: err,
    });
  }
  const problem = mediaIndexProblem(json);
  if (problem)
    throw new PlayerError('NETWORK', `index: ${problem}`, { fatal: false, status: res.status });
  return json as RelayIndex;
}

/**
 * Counts a session's client-server API requests by method and route, ids left out
 * (`POST /v3/keys/upload`, `PUT /v3/rooms/:id/send/m.room.encrypted/:id`): what a fresh device
 * costs next to a kept one (docs/matrix.md "Device and crypto store"), visible to callers.
 */
export function countingFetch(): { requests: Map<string, number>; fetchFn: typeof fetch } {
  const requests = new Map<string, number>();
  const fetchFn: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const route = url.pathname
      .replace(/^\/_matrix\/client/, '')
      .split('/')
      // room, event and user ids (sigil first, maybe percent-encoded), transaction ids
      .map((seg) => (/^(%21|%24|%40|!|\$|@|m?\d[\d.]*$)/.test(seg) ? ':id' : seg))
      .join('/');
    const key = `${init?.method ?? 'GET'} ${route}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    return fetch(input, init);
  };
  return { requests, fetchFn };
}

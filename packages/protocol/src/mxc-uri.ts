/**
 * mxc URIs (Matrix spec, "Matrix Content (mxc://) URIs"): `mxc://<server-name>/<media-id>`.
 * One grammar for every package: the relay formats them, clients and players parse them. Parsing
 * returns null on a bad URI so each caller raises its own error class (ClientError, PlayerError).
 */

export interface MxcUri {
  serverName: string;
  mediaId: string;
  /** Normalised: `mxc://{serverName}/{mediaId}`. */
  uri: string;
}

/**
 * Server names may carry a port and IPv6 literals (Matrix spec "Server names": host, IPv4,
 * `[IPv6]`, optional `:port`). Media ids are the Matrix spec's `[A-Za-z0-9_-]`, any length: the
 * relay mints and accepts only its own 22–64 (apps/relay media-id.ts, a policy of that relay),
 * but a client talks to any relay.
 */
const MXC = /^mxc:\/\/([A-Za-z0-9.\-:[\]]+)\/([A-Za-z0-9_-]+)$/;

/** The parts of an mxc URI, or null when `uri` is not one. */
export function matchMxc(uri: string): MxcUri | null {
  const m = MXC.exec(uri);
  if (!m) return null;
  return formatMxcParts(m[1] as string, m[2] as string);
}

/** `mxc://{serverName}/{mediaId}`. */
export function formatMxc(serverName: string, mediaId: string): string {
  return `mxc://${serverName}/${mediaId}`;
}

function formatMxcParts(serverName: string, mediaId: string): MxcUri {
  return { serverName, mediaId, uri: formatMxc(serverName, mediaId) };
}

/** `{serverName}/{mediaId}`, URL-encoded, as it appears in the relay's paths. */
export function mxcPathSegment(mxc: Pick<MxcUri, 'serverName' | 'mediaId'>): string {
  return `${encodeURIComponent(mxc.serverName)}/${encodeURIComponent(mxc.mediaId)}`;
}

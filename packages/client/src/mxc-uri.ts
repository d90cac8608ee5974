/**
 * mxc URIs (Matrix spec, "Matrix Content (mxc://) URIs"): `mxc://<server-name>/<media-id>`.
 * The relay's media ids are `[A-Za-z0-9_-]+` (docs/protocol.md).
 */
import { ClientError } from './client-error.ts';

export interface MxcUri {
  serverName: string;
  mediaId: string;
  /** The URI as given, normalised: `mxc://{serverName}/{mediaId}`. */
  uri: string;
}

// Server names may carry a port and IPv6 literals (Matrix spec "Server names").
const MXC = /^mxc:\/\/([A-Za-z0-9.\-:[\]]+)\/([A-Za-z0-9_-]+)$/;

export function parseMxc(uri: string): MxcUri {
  const m = MXC.exec(uri);
  if (!m) {
    throw new ClientError(
      'M_BAD_ARGUMENT',
      `not an mxc URI: '${uri.slice(0, 120)}' (expected mxc://<server>/<media-id>)`,
    );
  }
  const serverName = m[1] as string;
  const mediaId = m[2] as string;
  return { serverName, mediaId, uri: `mxc://${serverName}/${mediaId}` };
}

/** `{serverName}/{mediaId}`, URL-encoded, as it appears in the relay's paths. */
export function mxcPath(mxc: string | MxcUri): string {
  const p = typeof mxc === 'string' ? parseMxc(mxc) : mxc;
  return `${encodeURIComponent(p.serverName)}/${encodeURIComponent(p.mediaId)}`;
}

/**
 * mxc URIs for the client: the grammar is @mxcast/protocol's (one regex for every package); this
 * file only turns a bad URI into the client's error.
 */
import { matchMxc, mxcPathSegment, type MxcUri } from '@mxcast/protocol';
import { ClientError } from './client-error.ts';

export type { MxcUri };

export function parseMxc(uri: string): MxcUri {
  const mxc = matchMxc(uri);
  if (!mxc) {
    throw new ClientError(
      'BAD_ARGUMENT',
      `not an mxc URI: '${uri.slice(0, 120)}' (expected mxc://<server>/<media-id>)`,
    );
  }
  return mxc;
}

/** `{serverName}/{mediaId}`, URL-encoded, as it appears in the relay's paths. */
export function mxcPath(mxc: string | MxcUri): string {
  return mxcPathSegment(typeof mxc === 'string' ? parseMxc(mxc) : mxc);
}

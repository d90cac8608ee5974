/**
 * The relay's paths (docs/protocol.md). Defined once in @mxcast/protocol, which clients and the
 * player build their URLs from: the relay mounts its routes on the same constants.
 */
import { formatMxc } from '@mxcast/protocol';

export {
  UNSTABLE_PREFIX,
  CREATE_PATH,
  UPLOAD_PATH,
  DOWNLOAD_PATH,
  TUS_PATH,
  INDEX_PATH,
  MEDIA_PATH,
  HLS_PATH,
  LISTEN_WS_PATH,
  UPLOAD_WS_PATH,
} from '@mxcast/protocol';

/** `mxc://{serverName}/{id}`: the protocol's formatter, under the name the routes use. */
export const mxcUri = (serverName: string, id: string): string => formatMxc(serverName, id);

/**
 * The content of the `m.audio` event a Matrix client would send for a broadcast
 * (docs/listen-link.md "Event content"): the EncryptedFile v3 with its `url`, and the stream's
 * geometry under a namespaced key so a player can seek before fetching anything.
 */
import type { EncryptedFile } from '@mxcast/format';
import { STREAM_KEY, type StreamGeometry } from '@mxcast/protocol';
import { parseMxc } from './mxc-uri.ts';

export { STREAM_KEY };
export const OPUS_MIMETYPE = 'audio/ogg; codecs=opus';

export interface StreamInfo extends StreamGeometry {
  preset: string;
}

export interface BroadcastEventContent {
  msgtype: 'm.audio';
  body: string;
  info: { mimetype: string };
  file: EncryptedFile & { url: string };
  [STREAM_KEY]: StreamInfo;
}

export function buildEventContent(options: {
  title: string;
  mxc: string;
  file: EncryptedFile;
  preset: string;
  geometry: StreamGeometry;
}): BroadcastEventContent {
  const url = parseMxc(options.mxc).uri;
  return {
    msgtype: 'm.audio',
    body: options.title,
    info: { mimetype: OPUS_MIMETYPE },
    file: { ...options.file, url },
    [STREAM_KEY]: { preset: options.preset, ...options.geometry },
  };
}

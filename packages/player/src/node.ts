/**
 * @mxcast/player/node: the Node-only parts (file and pipe sinks, the `ws` WebSocket), kept out
 * of the browser-safe core.
 */
import WebSocket from 'ws';
import type { WebSocketConstructor } from './ws-block-source.ts';

export { WavFileSink, RawPcmSink } from './sink/wav-file-sink.ts';

/** The `ws` package's WebSocket, which has the WHATWG addEventListener/binaryType surface. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/**
 * One new listener joining a live stream, measured: the time from opening the connection to
 * its first whole audio unit (an Ogg page from Icecast, an MSC4016 block from the relay), and
 * how far behind live that unit is — the audio between it and the newest unit the broadcaster
 * has sent, at the moment it arrives. Raw sockets, as the fan-out listeners use, so that the
 * figure is the server's and not an HTTP client library's.
 * - Icecast: `GET /mount`; OpusHead and OpusTags first, then (with burst-on-connect) pages
 *   from the past. Behind live from the first audio page's granule position (RFC 7845 §4) vs
 *   the granule of the newest page sent.
 * - relay WebSocket: `?from=live&headers=1` (docs/protocol.md): blocks 0 and 1, then the next
 *   block to arrive. Behind live from the block's seq vs the newest seq sent.
 * - relay HTTP: the index (`GET {P}/index`), then `Range: bytes=N-` from the newest whole
 *   block it lists (N = header_end + (block_count − 3) × block_size). The index request is
 *   part of the measured join.
 */
import net from 'node:net';
import { ChunkedBodyReader } from '../fanout/chunked-body-reader.ts';
import { FixedBlockTracker } from '../fanout/fixed-block-tracker.ts';
import { OggPageTracker } from '../fanout/ogg-page-tracker.ts';
import { ResponseHeadReader, type ResponseHead } from '../fanout/response-head-reader.ts';
import { WsFrameReader } from '../fanout/ws-frame-reader.ts';

export interface JoinSample {
  /** Connection opened → first whole audio unit received, ms. */
  firstAudioMs: number;
  /** Audio between the first unit received and the newest unit sent then, ms. */
  behindLiveMs: number;
}

export interface LiveStream {
  port: number;
  path: string;
  /** Units (pages or blocks, seq 0 and 1 being the headers) sent so far. */
  sent(): number;
  /** Milliseconds of audio per unit. */
  unitMs: number;
}

export class JoinProbeError extends Error {
  readonly code = 'JOIN_FAILED' as const;
}

type BodySink = (chunk: Uint8Array, start: number, end: number) => void;

/**
 * Sends `request` on a fresh connection and feeds the body to the sink `start` builds from the
 * response head; resolves with what `finish` is called with, then closes the connection.
 */
function probe(
  port: number,
  request: string,
  expectStatus: number,
  timeoutMs: number,
  start: (head: ResponseHead, finish: (s: JoinSample) => void, socket: net.Socket) => BodySink,
): Promise<JoinSample> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const heads = new ResponseHeadReader();
    let sink: BodySink | null = null;
    let settled = false;
    const settle = (err: Error | null, sample?: JoinSample): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(sample as JoinSample);
    };
    const timer = setTimeout(
      () =>
        settle(
          new JoinProbeError(`no audio within ${timeoutMs} ms on ${request.split('\r\n')[0]}`),
        ),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      try {
        if (sink) return sink(chunk, 0, chunk.length);
        const head = heads.push(chunk, 0, chunk.length);
        if (!head) return;
        if (head.status !== expectStatus) {
          throw new JoinProbeError(
            `${request.split('\r\n')[0]} answered ${head.status}, not ${expectStatus}`,
          );
        }
        sink = start(head, (s) => settle(null, s), socket);
        if (head.bodyStart < chunk.length) sink(chunk, head.bodyStart, chunk.length);
      } catch (err) {
        settle(err as Error);
      }
    });
    socket.on('error', (err) => settle(new JoinProbeError(`join socket: ${err.message}`)));
    socket.on('close', () => settle(new JoinProbeError('the server closed before any audio')));
  });
}

/**
 * An Icecast listener; `granuleOf(seq)` is the granule the broadcaster gave page `seq`, so the
 * newest sent page's granule is known without parsing what was sent.
 */
export function joinIcecast(
  stream: LiveStream,
  granuleOf: (seq: number) => bigint,
  timeoutMs = 10_000,
): Promise<JoinSample> {
  const t0 = performance.now();
  const request = `GET ${stream.path} HTTP/1.0\r\nHost: 127.0.0.1:${stream.port}\r\nUser-Agent: mxcast-join-bench\r\n\r\n`;
  return probe(stream.port, request, 200, timeoutMs, (_head, finish) => {
    let done = false;
    const pages = new OggPageTracker((seq, granule) => {
      if (done || seq < 2) return;
      done = true;
      const at = performance.now();
      const newest = stream.sent() - 1;
      if (granule !== granuleOf(seq)) {
        throw new JoinProbeError(
          `Icecast page ${seq} has granule ${granule}, the broadcaster sent ${granuleOf(seq)}`,
        );
      }
      const behind = Number(granuleOf(newest) - granule) / 48; // 48 kHz (RFC 7845 §4)
      finish({ firstAudioMs: at - t0, behindLiveMs: behind });
    });
    return (c, s, e) => {
      if (!done) pages.push(c, s, e);
    };
  });
}

export function joinRelayWs(stream: LiveStream, timeoutMs = 10_000): Promise<JoinSample> {
  const t0 = performance.now();
  const request =
    `GET ${stream.path} HTTP/1.1\r\nHost: 127.0.0.1:${stream.port}\r\nUpgrade: websocket\r\n` +
    'Connection: Upgrade\r\nSec-WebSocket-Key: bXhjYXN0LWpvaW4tMTZieQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  return probe(stream.port, request, 101, timeoutMs, (_head, finish) => {
    const frames = new WsFrameReader({
      onBlock: (seq) => {
        if (seq < 2) return;
        const at = performance.now();
        finish({ firstAudioMs: at - t0, behindLiveMs: (stream.sent() - 1 - seq) * stream.unitMs });
      },
      onPing: () => undefined,
      onText: () => undefined,
      onClose: () => undefined,
    });
    return (c, s, e) => frames.push(c, s, e);
  });
}

interface IndexBody {
  block_count: number;
  header_end: number | null;
  block_size: number | null;
}

export async function joinRelayHttp(
  stream: LiveStream,
  indexUrl: string,
  timeoutMs = 10_000,
): Promise<JoinSample> {
  const t0 = performance.now();
  const res = await fetch(indexUrl);
  const index = (await res.json()) as IndexBody;
  if (!res.ok || index.header_end === null || index.block_size === null || index.block_count < 3) {
    throw new JoinProbeError(`index answered ${res.status} ${JSON.stringify(index)}`);
  }
  const seq = index.block_count - 1;
  const blockBytes = index.block_size;
  const offset = index.header_end + (seq - 2) * blockBytes;
  const request = `GET ${stream.path} HTTP/1.1\r\nHost: 127.0.0.1:${stream.port}\r\nRange: bytes=${offset}-\r\n\r\n`;
  return probe(stream.port, request, 206, timeoutMs, (head, finish) => {
    const blocks = new FixedBlockTracker(seq, offset, blockBytes, (s) => {
      const at = performance.now();
      finish({ firstAudioMs: at - t0, behindLiveMs: (stream.sent() - 1 - s) * stream.unitMs });
    });
    if (head.headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const chunks = new ChunkedBodyReader(
        (_c, s, e) => blocks.add(e - s),
        () => undefined,
      );
      return (c, s, e) => chunks.push(c, s, e);
    }
    return (_c, s, e) => blocks.add(e - s);
  });
}

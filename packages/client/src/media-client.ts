/**
 * The relay's Matrix-shaped media API (docs/protocol.md) as a client for Node and browsers:
 * create (MSC2246), streaming PUT, tus 1.0.0 helpers, block index, download with Range,
 * WebSocket listening and delete. Every failure is a ClientError carrying the relay's errcode.
 */
import {
  CREATE_PATH,
  DOWNLOAD_PATH,
  GEOMETRY_KEY,
  INDEX_PATH,
  LISTEN_WS_PATH,
  MEDIA_PATH,
  TUS_PATH,
  UPLOAD_PATH,
  mediaIndexProblem,
  type MediaIndex,
  type StreamGeometry,
} from '@mxcast/protocol';
import { ClientError, errorFromResponse, networkError } from './client-error.ts';
import { AnswerTimeout, fetchWithAnswerTimeout } from './answer-timeout.ts';
import { ListenSocket, resolveWebSocket, type WebSocketConstructor } from './listen-socket.ts';
import { mxcPath, parseMxc } from './mxc-uri.ts';

export interface MediaClientOptions {
  baseUrl: string;
  accessToken?: string;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Defaults to globalThis.WebSocket, else the `ws` package. */
  webSocket?: WebSocketConstructor;
  /**
   * How long a request (create, tus HEAD/POST/PATCH, index, delete) may wait for the relay's
   * answer, and a WebSocket for its open, in ms; default DEFAULT_TIMEOUT_MS. A relay that accepts
   * connections and never answers then fails as NETWORK (retryable), so a caller naming several
   * cluster nodes moves on to the next (docs/operations.md "Cluster"). The streaming PUT and
   * downloads are not bounded: their answers legitimately take as long as the media.
   */
  timeoutMs?: number;
}

/**
 * Default answer timeout, ms. A cluster node's answer to an upload waits until JetStream holds
 * it, which a NATS leader election can stretch to seconds; 10 s leaves room for that and still
 * moves a capture on from a dead-but-connected node before its buffer fills.
 */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The slowest uplink a tus PATCH's timeout allows for its body (16 KB/s: 256 KiB in 16 s). */
const MIN_UPLOAD_BYTES_PER_SECOND = 16_000;

export interface CreatedMedia {
  mxc: string;
  unusedExpiresAt: number;
}

export interface UploadResult {
  contentUri: string;
  sha256: string | null;
}

export interface TusOffset {
  offset: number;
  /** Upload-Length when the relay knows it. */
  length: number | null;
}

export class MediaClient {
  readonly baseUrl: string;
  private readonly accessToken: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly webSocket: WebSocketConstructor | undefined;
  readonly timeoutMs: number;

  constructor(options: MediaClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new ClientError('BAD_ARGUMENT', `relay URL is not a URL: '${options.baseUrl}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ClientError('BAD_ARGUMENT', `relay URL must be http(s), got '${url.protocol}'`);
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.accessToken = options.accessToken;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.webSocket = options.webSocket;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0))
      throw new ClientError('BAD_ARGUMENT', `timeoutMs must be > 0, got ${options.timeoutMs}`);
  }

  // ---- create (MSC2246) ----------------------------------------------------------------

  async create(geometry?: StreamGeometry | null): Promise<CreatedMedia> {
    const body = geometry ? JSON.stringify({ [GEOMETRY_KEY]: geometry }) : undefined;
    const res = await this.request('create media', CREATE_PATH, {
      method: 'POST',
      headers: body ? { 'Content-Type': 'application/json' } : {},
      ...(body ? { body } : {}),
    });
    const json = (await this.json('create media', res)) as {
      content_uri?: unknown;
      unused_expires_at?: unknown;
    };
    if (typeof json.content_uri !== 'string') {
      throw new ClientError('BAD_RESPONSE', 'create media: response has no content_uri', 200);
    }
    return {
      mxc: parseMxc(json.content_uri).uri,
      unusedExpiresAt: Number(json.unused_expires_at ?? 0),
    };
  }

  // ---- streaming PUT ---------------------------------------------------------------------

  /**
   * Streams `body` as the media's bytes in one PUT (`duplex: 'half'`, a chunked request body).
   * `contentRangeStart` continues a cut-off upload at that block boundary
   * (`Content-Range: bytes N-*\/*`, docs/protocol.md). Resolves when the relay has completed
   * the media; rejects with NETWORK when the connection drops.
   */
  async uploadStream(
    mxc: string,
    body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    options: { contentRangeStart?: number; signal?: AbortSignal } = {},
  ): Promise<UploadResult> {
    const stream = body instanceof ReadableStream ? body : iterableToStream(body);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (options.contentRangeStart !== undefined) {
      headers['Content-Range'] = `bytes ${options.contentRangeStart}-*/*`;
    }
    const res = await this.request(
      'upload',
      `${UPLOAD_PATH}/${mxcPath(mxc)}`,
      {
        method: 'PUT',
        headers,
        body: stream,
        duplex: 'half',
        ...(options.signal ? { signal: options.signal } : {}),
      } as RequestInit,
      false,
    );
    const json = (await this.json('upload', res)) as { content_uri?: string; sha256?: string };
    return { contentUri: json.content_uri ?? parseMxc(mxc).uri, sha256: json.sha256 ?? null };
  }

  // ---- tus 1.0.0 ---------------------------------------------------------------------------

  tusUrl(mxc: string): string {
    return `${this.baseUrl}${TUS_PATH}/${mxcPath(mxc)}`;
  }

  /** tus creation (POST with Upload-Length or Upload-Defer-Length: 1) for created media. */
  async tusCreate(mxc: string, options: { uploadLength?: number } = {}): Promise<void> {
    const headers: Record<string, string> = { 'Tus-Resumable': '1.0.0' };
    if (options.uploadLength !== undefined) headers['Upload-Length'] = String(options.uploadLength);
    else headers['Upload-Defer-Length'] = '1';
    await this.request('tus create', this.tusUrl(mxc), { method: 'POST', headers });
  }

  /** tus HEAD: how many bytes the relay holds (always a block boundary). */
  async tusOffset(mxc: string, options: { signal?: AbortSignal } = {}): Promise<TusOffset> {
    const res = await this.request('tus offset', this.tusUrl(mxc), {
      method: 'HEAD',
      headers: { 'Tus-Resumable': '1.0.0' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const offset = Number(res.headers.get('Upload-Offset'));
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new ClientError(
        'BAD_RESPONSE',
        `tus offset: bad Upload-Offset '${res.headers.get('Upload-Offset')}'`,
        res.status,
      );
    }
    const len = res.headers.get('Upload-Length');
    return { offset, length: len === null ? null : Number(len) };
  }

  /**
   * tus PATCH of `bytes` at `offset`; resolves to the new Upload-Offset. `final` (or an explicit
   * `uploadLength`) sends Upload-Length = offset + bytes.length, which completes the media.
   */
  async tusPatch(
    mxc: string,
    offset: number,
    bytes: Uint8Array,
    options: { final?: boolean; uploadLength?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    const headers: Record<string, string> = {
      'Tus-Resumable': '1.0.0',
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(offset),
    };
    const length = options.uploadLength ?? (options.final ? offset + bytes.length : undefined);
    if (length !== undefined) headers['Upload-Length'] = String(length);
    // The answer comes after the body is sent: a slow uplink gets the time to send it at
    // MIN_UPLOAD_BYTES_PER_SECOND on top of the timeout.
    const res = await this.request(
      'tus patch',
      this.tusUrl(mxc),
      {
        method: 'PATCH',
        headers,
        body: bytes as Uint8Array<ArrayBuffer>,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      Math.ceil((bytes.length * 1000) / MIN_UPLOAD_BYTES_PER_SECOND),
    );
    await res.body?.cancel();
    const next = Number(res.headers.get('Upload-Offset'));
    if (!Number.isSafeInteger(next)) {
      throw new ClientError('BAD_RESPONSE', 'tus patch: response has no Upload-Offset', res.status);
    }
    return next;
  }

  // ---- index, download, delete --------------------------------------------------------------

  async index(mxc: string, options: { from?: number; count?: number } = {}): Promise<MediaIndex> {
    const q = new URLSearchParams();
    if (options.from !== undefined) q.set('from', String(options.from));
    if (options.count !== undefined) q.set('count', String(options.count));
    const qs = q.size ? `?${q}` : '';
    const res = await this.request('index', `${INDEX_PATH}/${mxcPath(mxc)}${qs}`, {
      method: 'GET',
    });
    const json = await this.json('index', res);
    // Checked, not cast: a relay (or a proxy) answering something else fails here, by name.
    const problem = mediaIndexProblem(json);
    if (problem) throw new ClientError('BAD_RESPONSE', `index: ${problem}`, res.status);
    return json as MediaIndex;
  }

  /**
   * GET the media from `offset` (to `end`, inclusive, when given). The response streams the
   * growing file; the caller reads `res.body`. Non-2xx answers throw.
   */
  async download(
    mxc: string,
    options: { offset?: number; end?: number; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (options.offset !== undefined || options.end !== undefined) {
      headers['Range'] = `bytes=${options.offset ?? 0}-${options.end ?? ''}`;
    }
    const qs = options.timeoutMs !== undefined ? `?timeout_ms=${options.timeoutMs}` : '';
    // Not timed: a download's answer waits for the first byte up to `timeout_ms` (MSC2246).
    return this.request(
      'download',
      `${DOWNLOAD_PATH}/${mxcPath(mxc)}${qs}`,
      { method: 'GET', headers, ...(options.signal ? { signal: options.signal } : {}) },
      false,
    );
  }

  /** Cancels a live upload (listeners' streams end without EOS) or deletes complete media. */
  async deleteMedia(mxc: string): Promise<void> {
    const res = await this.request('delete', `${MEDIA_PATH}/${mxcPath(mxc)}`, {
      method: 'DELETE',
    });
    await res.body?.cancel();
  }

  // ---- WebSocket ----------------------------------------------------------------------------

  /** The listen socket's URL without the token (safe to log). */
  listenSocketUrl(
    mxc: string,
    options: { from?: 'live' | number; headers?: boolean; ack?: boolean } = {},
  ): string {
    const q = new URLSearchParams({ from: String(options.from ?? 'live') });
    if (options.headers) q.set('headers', '1');
    // The owner's acknowledgement socket, not counted as a listener (docs/protocol.md).
    if (options.ack) q.set('ack', '1');
    const http = `${this.baseUrl}${LISTEN_WS_PATH}/${mxcPath(mxc)}?${q}`;
    return http.replace(/^http/, 'ws');
  }

  async listenSocket(
    mxc: string,
    options: { from?: 'live' | number; headers?: boolean; ack?: boolean } = {},
  ): Promise<ListenSocket> {
    const shown = this.listenSocketUrl(mxc, options);
    // Browsers cannot set headers on a WebSocket: the token goes in the query (docs/protocol.md).
    const url = this.accessToken
      ? `${shown}&access_token=${encodeURIComponent(this.accessToken)}`
      : shown;
    const Impl = await resolveWebSocket(this.webSocket);
    return ListenSocket.open(Impl, url, shown, this.timeoutMs);
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /**
   * One request. `timed` (the default) bounds the wait for the response's headers by
   * `timeoutMs`, plus `timed` ms when it is a number (the time to send a request body); the
   * response body is not bounded (a download streams for as long as the media).
   */
  private async request(
    what: string,
    pathOrUrl: string,
    init: RequestInit,
    timed: boolean | number = true,
  ): Promise<Response> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`;
    const headers = new Headers(init.headers);
    if (this.accessToken) headers.set('Authorization', `Bearer ${this.accessToken}`);
    const ms = this.timeoutMs + (typeof timed === 'number' ? timed : 0);
    const sent = { ...init, headers };
    let res: Response;
    try {
      res =
        timed !== false
          ? await fetchWithAnswerTimeout(this.fetchImpl, url, sent, ms)
          : await this.fetchImpl(url, sent);
    } catch (err) {
      if (err instanceof AnswerTimeout)
        throw new ClientError(
          'NETWORK',
          `${what}: ${this.baseUrl} did not answer within ${ms} ms`,
          0,
          { cause: err },
        );
      throw networkError(what, this.baseUrl, err);
    }
    if (!res.ok) throw await errorFromResponse(what, res);
    return res;
  }

  private async json(what: string, res: Response): Promise<unknown> {
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw networkError(what, this.baseUrl, err);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ClientError(
        'BAD_RESPONSE',
        `${what}: response is not JSON: '${text.slice(0, 80)}'`,
        res.status,
      );
    }
  }
}

function iterableToStream(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}

/**
 * The download service worker (docs/web.md "Download the recording"): answers
 * `/__mxcast_download/<id>/<name>.opus` with the decrypted recording as a stream, so that a
 * 4-hour broadcast is never held in memory, not even once: the relay's ciphertext is fetched one
 * range at a time as the file is written (ranged-fetch.ts: one fetch's body would be read ahead
 * of the stream's backpressure), each block passes the same gate as the player's
 * (framing, CRC and consecutive seq in BlockFramer, then AES-GCM: createDecryptStream emits a
 * block only after its tag verified), and only its plaintext — one Ogg page — goes to the file.
 *
 * No unauthenticated byte is written, and a download never "completes" short: a block that
 * fails, a page that is not Opus, or a stream that ends without its EOS page errors the stream,
 * which the browser shows as a failed download.
 *
 * Typed without the webworker lib (which clashes with the DOM lib of the rest of the app): the
 * few service-worker types it uses are declared here.
 */
import {
  createBlockCipher,
  createDecryptStream,
  createScheduleCipher,
  parseEncryptedFile,
  type DecryptedBlock,
} from '@mxcast/format';
import { parseOpusPage } from '@mxcast/ogg';
import { DOWNLOAD_PREFIX, type DownloadJob } from './download-job.ts';
import { rangedFetch } from './ranged-fetch.ts';

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface SwScope {
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', fn: (e: MessageEvent) => void): void;
}
const sw = self as unknown as SwScope;

/** Jobs the page posted, each answered once (the URL is one-use). */
const jobs = new Map<string, DownloadJob>();

sw.addEventListener('install', (e) => e.waitUntil(sw.skipWaiting()));
sw.addEventListener('activate', (e) => e.waitUntil(sw.clients.claim()));
sw.addEventListener('message', (e) => {
  const data = e.data as { type?: string; id?: string; job?: DownloadJob } | null;
  if (data?.type !== 'download' || !data.id || !data.job) return;
  jobs.set(data.id, data.job);
  e.ports[0]?.postMessage({ ok: true });
});
sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (url.origin !== sw.location.origin || !url.pathname.startsWith(DOWNLOAD_PREFIX)) return;
  const id = url.pathname.slice(DOWNLOAD_PREFIX.length).split('/')[0] ?? '';
  const job = jobs.get(id);
  jobs.delete(id);
  e.respondWith(job ? recording(job) : new Response('unknown download', { status: 404 }));
});

async function recording(job: DownloadJob): Promise<Response> {
  // Each block under the epoch its seq falls in, as the player's gate (BlockAuthenticator).
  const cipher =
    job.epochs && job.epochs.length > 1
      ? await createScheduleCipher(job.epochs, { backend: 'webcrypto' })
      : await createBlockCipher(parseEncryptedFile(job.file), { backend: 'webcrypto' });
  // One range at a time, each fetched when the decryption asks for it (ranged-fetch.ts).
  const ciphertext = await rangedFetch(
    job.url,
    job.accessToken ? { Authorization: `Bearer ${job.accessToken}` } : {},
  );
  if (ciphertext instanceof Response)
    return new Response(`the relay answered ${ciphertext.status}`, { status: 502 });
  let eos = false;
  const toOgg = new TransformStream<DecryptedBlock, Uint8Array>({
    transform(block, controller) {
      if (eos) throw new Error(`block ${block.seq} after the end of the stream (EOS)`);
      // Throws on anything that is not an Opus stream's Ogg page.
      const page = parseOpusPage(block.plaintext);
      eos = page.kind === 'audio' && page.eos;
      controller.enqueue(block.plaintext);
    },
    flush() {
      if (!eos) throw new Error('the recording ends before its last page (EOS): incomplete');
    },
  });
  const body = ciphertext.body.pipeThrough(createDecryptStream(cipher)).pipeThrough(toOgg);
  return new Response(body, {
    headers: {
      'Content-Type': 'audio/ogg; codecs=opus',
      'Content-Disposition': `attachment; filename="${job.name.replace(/["\\\r\n]/g, '_')}"`,
      'Cache-Control': 'no-store',
    },
  });
}

/**
 * The deployment of deploy/README.md, end to end: a real `mxcast relay` behind Debian's nginx
 * running deploy/nginx-mxcast.conf itself (ports, name, certificate substituted), TLS with a
 * self-signed certificate the clients trust as their CA. A live broadcast is uploaded through
 * nginx (streaming PUT, then tus), downloaded live over https (HTTP/2) and heard over wss; what
 * arrives must decrypt to what was sent, which fails if nginx buffers, cuts or alters a byte.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MediaClient, type ListenEvent } from '@mxcast/client';
import {
  createBlockCipher,
  decryptAll,
  encryptAll,
  generateEncryptedFile,
  MAGIC,
  type BlockCipher,
} from '@mxcast/format';
import { useHostileRelay } from '../hostile/hostile-harness.ts';
import { h2Fetch, type H2Fetch } from './h2-fetch.ts';
import { startTlsProxy, type TlsProxy } from './nginx-harness.ts';

const relay = useHostileRelay();
let proxy: TlsProxy;
let h2: H2Fetch;
let client: MediaClient;
beforeAll(async () => {
  proxy = await startTlsProxy(relay().port);
  h2 = h2Fetch(proxy.cert);
  const ca = proxy.cert;
  // `ws` with the test's CA: the same TLS verification a browser does against a real certificate.
  class TrustingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { ca });
    }
  }
  client = new MediaClient({
    baseUrl: proxy.url,
    accessToken: relay().token,
    fetch: h2.fetch,
    webSocket: TrustingWebSocket as never,
  });
});
afterAll(async () => {
  h2?.close();
  await proxy?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each plaintext sealed as its own block (seq i), the magic before block 0: a live upload's parts. */
async function sealEach(cipher: BlockCipher, plaintexts: Uint8Array[]): Promise<Uint8Array[]> {
  return Promise.all(
    plaintexts.map((p, i) => encryptAll(cipher, [p], { startSeq: i, magic: i === 0 })),
  );
}

/** Resolves once `done()` holds; fails naming `what` after 5 s. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} through nginx`);
    await sleep(10);
  }
}

const hex = (bs: Uint8Array[]) => bs.map((b) => Buffer.from(b).toString('hex'));

describe('the relay behind nginx with TLS (deploy/nginx-mxcast.conf)', () => {
  it('a live broadcast by streaming PUT is downloaded live over https (HTTP/2) and heard over wss; both decrypt', async () => {
    const file = generateEncryptedFile();
    const cipher = await createBlockCipher(file);
    const plaintexts = Array.from({ length: 60 }, () => new Uint8Array(randomBytes(240)));
    const parts = await sealEach(cipher, plaintexts);
    const { mxc } = await client.create();
    const socket = await client.listenSocket(mxc, { from: 0 });
    const heard: ListenEvent[] = [];
    const listening = (async () => {
      for await (const ev of socket) {
        heard.push(ev);
        if (ev.type === 'end') break;
      }
      socket.close();
    })();
    const blocksHeard = () => heard.filter((e) => e.type === 'block').length;

    // The first 10 blocks go up, then the upload waits: the listener must hear them and a
    // download must receive them while the PUT is still open. A proxy that buffers the request
    // body (proxy_request_buffering on) or the response (proxy_buffering on) holds them back
    // until the end, and the wait times out.
    const head = Buffer.concat(parts.slice(0, 10)).length;
    let downloaded = 0;
    const chunks: Buffer[] = [];
    let download: Promise<void> | null = null;
    async function* live() {
      for (const [i, p] of parts.entries()) {
        yield p;
        if (i === 9) {
          await until(() => blocksHeard() >= 10, 'the wss listener to hear blocks 0..9');
          download = client.download(mxc).then(async (res) => {
            for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
              chunks.push(Buffer.from(c));
              downloaded += c.length;
            }
          });
          await until(() => downloaded >= head, 'the https download to receive blocks 0..9');
        }
        await sleep(10);
      }
    }
    const result = await client.uploadStream(mxc, live());
    expect(result.contentUri).toBe(mxc);
    await listening;
    await download;
    expect(heard.at(-1)).toEqual({ type: 'end', state: 'complete' });

    const fromDownload = await decryptAll(cipher, Buffer.concat(chunks));
    expect(fromDownload.map((b) => b.seq)).toEqual(plaintexts.map((_, i) => i));
    expect(hex(fromDownload.map((b) => b.plaintext))).toEqual(hex(plaintexts));
    const blocks = heard
      .filter((e) => e.type === 'block')
      .map((e) => (e as { bytes: Uint8Array }).bytes);
    const fromSocket = await decryptAll(cipher, Buffer.concat([MAGIC, ...blocks]));
    expect(hex(fromSocket.map((b) => b.plaintext))).toEqual(hex(plaintexts));

    expect(h2.protocols()).toContain('h2');
  });

  it('a tus upload in two PATCHes goes through nginx; the stored media decrypts', async () => {
    const cipher = await createBlockCipher(generateEncryptedFile());
    const plaintexts = Array.from({ length: 20 }, () => new Uint8Array(randomBytes(500)));
    const parts = await sealEach(cipher, plaintexts);
    const { mxc } = await client.create();
    await client.tusCreate(mxc);
    const first = Buffer.concat(parts.slice(0, 8));
    const offset = await client.tusPatch(mxc, 0, first);
    expect(offset).toBe(first.length);
    expect((await client.tusOffset(mxc)).offset).toBe(first.length);
    const rest = Buffer.concat(parts.slice(8));
    expect(await client.tusPatch(mxc, offset, rest, { final: true })).toBe(offset + rest.length);
    expect((await client.index(mxc)).state).toBe('complete');
    const stored = Buffer.from(await (await client.download(mxc)).arrayBuffer());
    const decrypted = await decryptAll(cipher, stored);
    expect(hex(decrypted.map((b) => b.plaintext))).toEqual(hex(plaintexts));
  });

  it('a listener that stops reading holds back the relay, not an nginx temp file (proxy_buffering off)', async () => {
    // 24 MiB stored, more than loopback socket buffers hold: a download that reads nothing must
    // stall nginx's read from the relay. With proxy_buffering on, nginx reads on into memory and
    // a temp file (up to 1 GiB by default), and the relay's bounds on slow listeners see nothing.
    const cipher = await createBlockCipher(generateEncryptedFile());
    const block = new Uint8Array(randomBytes(60 * 1024));
    const parts = await sealEach(
      cipher,
      Array.from({ length: 400 }, () => block),
    );
    const { mxc } = await client.create();
    await client.tusCreate(mxc);
    const whole = Buffer.concat(parts);
    expect(await client.tusPatch(mxc, 0, whole, { final: true })).toBe(whole.length);

    const url = new URL(
      `${proxy.url}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`,
    );
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpsGet(
        url,
        { ca: proxy.cert, headers: { authorization: `Bearer ${relay().token}` } },
        resolve,
      );
      req.on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    res.pause();
    await sleep(1500);
    const spooled = readdirSync(path.join(proxy.dir, 'proxy'), { recursive: true }).length;
    res.destroy();
    expect(proxy.errorLog()).not.toContain('buffered to a temporary file');
    expect(spooled).toBe(0);
  });

  it("nginx's access log has the requests but no query string (access_token) and no client address", () => {
    const log = proxy.accessLog();
    expect(log).toMatch(/ PUT \/_matrix\/media\/v3\/upload\/localhost\/\S+ 200 /);
    expect(log).toMatch(/ GET \/_matrix\/client\/v1\/media\/download\/localhost\/\S+ 200 /);
    expect(log).toMatch(/ GET \/_matrix\/media\/unstable\/org\.matrix\.msc4016\/ws\/\S+ 101 /);
    expect(log).not.toContain('access_token');
    expect(log).not.toContain(relay().token);
    expect(log).not.toContain('127.0.0.1');
    expect(proxy.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  });
});

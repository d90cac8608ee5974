/**
 * Pins the ws and node:http behaviour fast-writer.ts relies on, on the versions installed: if an
 * upgrade changes any of it this fails here, by name, rather than as reordered bytes on the live
 * path. Real servers on loopback, real clients (ws, node:net).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { makeSharedBlock, joinBlocks, wsTextFrame } from '../fanout/shared-block.ts';
import {
  canWriteRawChunk,
  currentResponse,
  frameWriter,
  nodeDestroySoon,
  writeChunk,
  wsSocket,
} from './fast-writer.ts';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A ws server (noServer, like the relay's) and one connected pair: [server side, client]. */
async function wsPair(
  deflate: boolean,
): Promise<{ server: WebSocket; client: WebSocket; upgraded: Socket }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: deflate });
  let upgraded!: Socket;
  const accepted = new Promise<WebSocket>((resolve) =>
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      upgraded = socket;
      wss.handleUpgrade(req, socket, head, resolve);
    }),
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: deflate });
  const server = await accepted;
  await new Promise<void>((resolve) => client.once('open', () => resolve()));
  closers.push(() => {
    client.terminate();
    server.terminate();
    wss.close();
    http.close();
  });
  return { server, client, upgraded };
}

function receive(client: WebSocket, n: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) =>
    client.on('message', (data, isBinary) => {
      got.push(isBinary ? `bin:${(data as Buffer).toString('latin1')}` : `txt:${String(data)}`);
      if (got.length === n) resolve(got);
    }),
  );
}

const block = (seq: number, text: string) => makeSharedBlock(seq, 0, Buffer.from(text, 'latin1'));

describe('ws (without permessage-deflate)', () => {
  it('keeps the upgraded net.Socket in _socket', async () => {
    const { server, upgraded } = await wsPair(false);
    expect(wsSocket(server)).toBeInstanceOf(Socket);
    expect(wsSocket(server)).toBe(upgraded);
    expect(server.extensions).toBe('');
  });

  it('writes each ws.send to the socket synchronously, whole frame', async () => {
    const { server } = await wsPair(false);
    const socket = wsSocket(server) as Socket;
    socket.cork(); // nothing leaves: all of it stays counted in writableLength
    const before = socket.writableLength;
    server.send(Buffer.alloc(300, 1));
    // 300 bytes of payload + a 4-byte header (RFC 6455 §5.2, 16-bit length), now, not later.
    expect(socket.writableLength - before).toBe(304);
    server.send('hello');
    expect(socket.writableLength - before).toBe(304 + 7);
    socket.uncork();
  });

  it('delivers raw frames and ws.send in call order (the fast writer)', async () => {
    const { server, client } = await wsPair(false);
    const out = frameWriter(server);
    expect(out.fast).toBe(true);
    const got = receive(client, 6);
    server.send('first');
    out.writeBlock(block(0, 'b0'));
    out.writeText(wsTextFrame(Buffer.from('{"type":"status"}')));
    server.send(Buffer.from('mid'));
    out.writeBlock(joinBlocks([block(1, 'b1'), block(2, 'b2')]));
    expect(await got).toEqual([
      'txt:first',
      'bin:b0',
      'txt:{"type":"status"}',
      'bin:mid',
      'bin:b1',
      'bin:b2',
    ]);
  });
});

describe('the fallbacks', () => {
  it('with permessage-deflate negotiated (ws.send async), frames go through ws.send, in order', async () => {
    const { server, client } = await wsPair(true);
    expect(server.extensions).toContain('permessage-deflate');
    const out = frameWriter(server);
    expect(out.fast).toBe(false);
    const got = receive(client, 4);
    server.send('first');
    out.writeBlock(joinBlocks([block(0, 'b0'), block(1, 'b1')]));
    out.writeText(wsTextFrame(Buffer.from('x'.repeat(200))));
    expect(await got).toEqual(['txt:first', 'bin:b0', 'bin:b1', `txt:${'x'.repeat(200)}`]);
  });

  it('the ws.send writer reports its queue (ws.bufferedAmount) and drains', async () => {
    const { server } = await wsPair(false);
    const out = frameWriter(server, true);
    expect(out.fast).toBe(false);
    const socket = wsSocket(server) as Socket;
    socket.cork(); // holds what is sent in the socket, as a peer that stops reading would
    for (let i = 0; i < 8; i++) out.writeBlock(block(i, 'y'.repeat(4096)));
    expect(out.queued).toBe(server.bufferedAmount);
    expect(out.queued).toBeGreaterThanOrEqual(8 * 4096);
    expect(out.needsDrain).toBe(true);
    const drained = out.drained();
    setTimeout(() => socket.uncork(), 30);
    await drained;
    expect(out.needsDrain).toBe(false);
    expect(out.gone).toBe(false);
  });
});

describe('node:http', () => {
  let server: Server;
  async function serve(
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<number> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    return (server.address() as AddressInfo).port;
  }

  function rawGet(port: number, requests = 1): Promise<string> {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(requests));
    return new Promise((resolve) => socket.on('close', () => resolve(text)));
  }

  it('a flushed chunked response owns its socket with nothing held back: raw chunks interleave with res.write', async () => {
    const seen: unknown[] = [];
    const port = await serve((_req, res) => {
      res.setHeader('connection', 'close');
      seen.push(canWriteRawChunk(res)); // head not written yet: outputSize > 0 once it is queued
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      const internals = res as unknown as { outputSize: unknown; chunkedEncoding: unknown };
      seen.push(
        internals.chunkedEncoding,
        internals.outputSize,
        currentResponse(res.socket as Socket) === res,
      );
      seen.push(canWriteRawChunk(res));
      res.write('aa');
      writeChunk(res, block(0, 'bb'));
      res.write('cc');
      writeChunk(res, block(1, 'dd'));
      res.end();
    });
    const text = await rawGet(port);
    expect(seen).toEqual([false, true, 0, true, true]);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    expect(body).toBe('2\r\naa\r\n2\r\nbb\r\n2\r\ncc\r\n2\r\ndd\r\n0\r\n\r\n');
  });

  it('a response with Content-Length, or a pipelined one not yet at the head, takes res.write', async () => {
    const verdicts: boolean[] = [];
    let first: ServerResponse | null = null;
    const port = await serve((_req, res) => {
      if (!first) {
        first = res;
        res.writeHead(200, { 'content-length': '4' });
        res.flushHeaders();
        verdicts.push(canWriteRawChunk(res));
        writeChunk(res, block(0, 'ab'));
        setTimeout(() => (first as ServerResponse).end('cd'), 50);
        return;
      }
      // The second pipelined request: its response waits behind the first.
      res.setHeader('connection', 'close');
      res.writeHead(200);
      verdicts.push(canWriteRawChunk(res));
      writeChunk(res, block(1, 'ef'));
      res.end();
    });
    const text = await rawGet(port, 2);
    expect(verdicts).toEqual([false, false]);
    expect(text).toContain('\r\n\r\nabcd');
    expect(text).toMatch(/\r\n\r\n2\r\nef\r\n0\r\n\r\n$/);
  });

  it('net.Socket has destroySoon, and no socket between requests has a current response', async () => {
    expect(typeof nodeDestroySoon()).toBe('function');
    const idle = new Socket();
    expect(currentResponse(idle)).toBeNull();
    idle.destroy();
  });
});

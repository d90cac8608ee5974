/**
 * An HTTP proxy in front of the relay that flips one byte in the middle of every media download
 * (`/_matrix/client/v1/media/download/…`) and passes everything else through, WebSocket upgrades
 * included: a hostile relay as the listener page's download sees it.
 */
import { request, createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface TamperProxy {
  url: string;
  /** Downloads tampered so far. */
  tampered: number;
  close(): Promise<void>;
}

export async function startTamperDownloadProxy(targetPort: number): Promise<TamperProxy> {
  const sockets = new Set<Socket>();
  const state = { tampered: 0 };
  const server: Server = createServer((req, res) => {
    const upstream = request(
      {
        host: '127.0.0.1',
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        const tamper = req.method === 'GET' && /\/media\/download\//.test(req.url ?? '');
        if (!tamper || (up.statusCode ?? 0) >= 300) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          body[Math.floor(body.length * 0.6)]! ^= 0x01;
          state.tampered++;
          const headers = { ...up.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(up.statusCode ?? 200, headers);
          res.end(body);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, client: Socket, head: Buffer) => {
    const up = connect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      client.pipe(up).pipe(client);
    });
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get tampered() {
      return state.tampered;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

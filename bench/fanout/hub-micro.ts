/**
 * A micro-benchmark of the relay's live write alone (no relay process, no upload): N real loopback
 * HTTP responses held open in this process, and the CPU one live block costs per listener for
 * each way of writing it — res.write of the block (node frames the chunk: cork, size line, CRLF,
 * data, CRLF, uncork on the next tick) against one socket.write of the block's prebuilt chunk
 * (what the relay does since SharedBlock.chunk) and, for reference, of the WebSocket frame. Readers
 * drain the sockets between blocks, so every write finds an empty socket as live writes do.
 *
 *   npx tsx bench/fanout/hub-micro.ts [N=2000] [blocks=200] [blockBytes=1031]
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** The block framed the ways the relay frames it once per block (apps/relay shared-block.ts). */
interface Framed {
  bytes: Buffer;
  /** RFC 9112 §7.1 chunk: hex size, CRLF, data, CRLF. */
  chunk: Buffer;
  /** RFC 6455 §5.2 unmasked binary frame (payload < 65536). */
  frame: Buffer;
}

function framed(bytes: Buffer): Framed {
  const size = Buffer.from(`${bytes.length.toString(16)}\r\n`, 'latin1');
  const head =
    bytes.length < 126
      ? Buffer.from([0x82, bytes.length])
      : Buffer.from([0x82, 126, bytes.length >> 8, bytes.length & 0xff]);
  return {
    bytes,
    chunk: Buffer.concat([size, bytes, Buffer.from('\r\n')]),
    frame: Buffer.concat([head, bytes]),
  };
}

const n = Number(process.argv[2] ?? 2000);
const blocks = Number(process.argv[3] ?? 200);
const blockBytes = Number(process.argv[4] ?? 1031);

const responses: http.ServerResponse[] = [];
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  res.flushHeaders();
  responses.push(res);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const sink = Buffer.allocUnsafe(256 * 1024);
let received = 0;
const clients: net.Socket[] = [];
for (let i = 0; i < n; i++) {
  const c = net.connect({
    port,
    host: '127.0.0.1',
    onread: {
      buffer: sink,
      callback: (nread) => {
        received += nread;
        return true;
      },
    },
  });
  c.write(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
  clients.push(c);
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
}
while (responses.length < n) await new Promise((r) => setTimeout(r, 20));

type Way = (res: http.ServerResponse, b: Framed) => void;
const ways: [string, Way][] = [
  ['res.write(bytes)', (res, b) => void res.write(b.bytes)],
  ['socket.write(chunk)', (res, b) => void (res.socket as net.Socket).write(b.chunk)],
  ['socket.write(ws frame)', (res, b) => void (res.socket as net.Socket).write(b.frame)],
];
const settle = () => new Promise((r) => setTimeout(r, 5));
for (const [name, write] of ways) {
  let cpu = 0;
  let wall = 0;
  for (let k = 0; k < blocks; k++) {
    const b = framed(Buffer.alloc(blockBytes, k)); // framed once per block, outside the timing
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const res of responses) write(res, b);
    // res.write uncorks on the next tick: that flush is part of its cost.
    await new Promise<void>((r) => process.nextTick(r));
    wall += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu += c.user + c.system;
    await settle();
  }
  const per = (v: number) => (v / blocks / n).toFixed(2);
  process.stdout.write(
    `${name.padEnd(24)} N=${n} ${blockBytes} B: ${per(cpu)} µs CPU, ${per(wall * 1000)} µs wall per listener per block\n`,
  );
}
process.stdout.write(`(received ${(received / 1e6).toFixed(1)} MB)\n`);
for (const c of clients) c.destroy();
server.closeAllConnections();
server.close();

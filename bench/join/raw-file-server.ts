/**
 * The peer of the relay's download endpoint: a minimal node:http static server sending one
 * file with fs.createReadStream, honouring an open-ended `Range: bytes=N-` (RFC 9110 §14.2)
 * as the relay's live Range requests are. Run as its own process (pinned to the relay's core by
 * the bench): `node --import tsx raw-file-server.ts FILE`; prints `http://127.0.0.1:PORT`.
 */
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: raw-file-server.ts FILE\n');
  process.exit(2);
}
const size = statSync(file).size;

const server = http.createServer((req, res) => {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  if (start >= size && size > 0) {
    res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    return;
  }
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/octet-stream',
    'content-length': size - start,
    'accept-ranges': 'bytes',
  };
  if (range) headers['content-range'] = `bytes ${start}-${size - 1}/${size}`;
  res.writeHead(range ? 206 : 200, headers);
  createReadStream(file, { start }).pipe(res);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

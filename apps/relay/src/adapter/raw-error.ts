/**
 * A RelayError written straight to a raw socket, for the places node:http does not own the
 * connection: a refused connection (connection-limiter.ts) and a refused WebSocket upgrade
 * (upgrade-router.ts, before the RFC 6455 §4 handshake). The status, JSON body and headers come
 * from the same errorParts as every Hono error response (core/relay-error.ts), plus the headers
 * of every relay response (core/response-headers.ts); only the HTTP/1.1 framing is written here.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorParts, type RelayError } from '../core/relay-error.ts';
import { RESPONSE_HEADERS } from '../core/response-headers.ts';

/** A RelayError as a whole HTTP/1.1 response that closes the connection. */
export function rawErrorResponse(err: RelayError): string {
  const { status, headers, body } = errorParts(err, { ...RESPONSE_HEADERS });
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return head + body;
}

/** Answers a refused upgrade with the Matrix error JSON and ends the socket. */
export function refuseUpgrade(socket: Duplex, err: RelayError): void {
  socket.end(rawErrorResponse(err));
}

/**
 * Caps on open connections (limits.maxConnections on the relay, limits.maxConnectionsPerAddress per
 * remote address), checked when a connection is accepted, before node:http reads a byte of it.
 * A refused connection gets a complete Matrix error answer at once (503, or 429 for one address
 * over its share; a client that sent nothing reads it as the answer to its request, a raw client
 * sees it and a FIN) and is closed as lingering-close.ts does: it is never read, so it can carry
 * no request to a route. Counts go to /metrics (mxcast_connections_open,
 * mxcast_connections_refused_total).
 */
import type { Socket } from 'node:net';
import type { RelayLimits } from '../core/relay-config.ts';
import { RelayError } from '../core/relay-error.ts';
import type { RelayMetrics } from '../core/relay-metrics.ts';
import { lingeringClose } from './lingering-close.ts';
import { rawErrorResponse } from './raw-error.ts';

/**
 * Refused connections lingering at once (each holds a file descriptor for LINGER_MS); past this a
 * flood of connection attempts is answered and destroyed at once, so refusals stay bounded too.
 */
export const MAX_LINGERING_REFUSED = 1024;

export class ConnectionLimiter {
  private open = 0;
  private lingeringRefused = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly refused = new WeakSet<Socket>();

  constructor(
    private readonly limits: RelayLimits,
    private readonly metrics: RelayMetrics,
  ) {}

  /** Counts an accepted connection, or answers and closes it; false when it was refused. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.perAddress.get(address) ?? 0;
    let refusal: RelayError | null = null;
    if (this.open >= this.limits.maxConnections) {
      this.metrics.connectionsRefused.maxConnections++;
      refusal = new RelayError('M_LIMIT_EXCEEDED', 'the relay has no room for more connections', {
        status: 503,
        fields: { 'org.matrix.msc4016.reason': 'MAX_CONNECTIONS' },
      });
    } else if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      this.metrics.connectionsRefused.maxConnectionsPerAddress++;
      refusal = new RelayError('M_LIMIT_EXCEEDED', 'too many connections from your address', {
        fields: { 'org.matrix.msc4016.reason': 'MAX_CONNECTIONS_PER_ADDRESS' },
      });
    }
    if (refusal) {
      this.refused.add(socket);
      this.metrics.countError(refusal.code);
      socket.on('error', () => socket.destroy());
      socket.write(rawErrorResponse(refusal));
      if (this.lingeringRefused >= MAX_LINGERING_REFUSED) {
        socket.destroy();
        return false;
      }
      this.lingeringRefused++;
      socket.once('close', () => this.lingeringRefused--);
      lingeringClose(socket);
      return false;
    }
    this.open++;
    this.perAddress.set(address, fromAddress + 1);
    this.metrics.connectionsOpen = this.open;
    socket.once('close', () => {
      this.open--;
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
      this.metrics.connectionsOpen = this.open;
    });
    return true;
  }

  /** A refused connection: node:http must not hand anything it parses from it to a route. */
  isRefused(socket: Socket): boolean {
    return this.refused.has(socket);
  }
}

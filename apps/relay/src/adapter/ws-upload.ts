/**
 * The WebSocket upload for browsers (docs/protocol.md): binary messages carry the file's bytes
 * (any split), each answered by an ack once stored; {"type":"finish"} completes the media; a bad
 * block is answered with the Matrix error and the socket is closed (1008, policy violation).
 * A socket that closes without finishing leaves the media live and resumable.
 * In cluster mode an ack (and the complete) waits until what it counts is in JetStream, as an
 * HTTP upload's answer does (app/relay-app.ts): a node killed right after an ack loses nothing
 * acknowledged (docs/operations.md "Cluster").
 */
import type { UploadServerMessage } from '@mxcast/protocol';
import type { RawData, WebSocket } from 'ws';
import { lostRaceError } from '../core/media-store.ts';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError, toRelayError } from '../core/relay-error.ts';
import type { UploadSession } from '../core/upload-session.ts';

export function attachWsUpload(ws: WebSocket, session: UploadSession, core: RelayCore): void {
  const rec = session.rec;
  let done = false;
  const fail = (err: unknown) => {
    if (done) return;
    done = true;
    const e = toRelayError(err);
    core.metrics.countError(e.code);
    ws.send(JSON.stringify({ type: 'error', ...e.toJSON() }));
    session.close();
    ws.close(1008, e.code);
  };
  // No byte for uploadIdleTimeoutMs: close (the media stays live and resumable).
  let idle: NodeJS.Timeout | null = null;
  const touch = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => {
      session.close();
      ws.terminate();
    }, core.config.limits.uploadIdleTimeoutMs);
  };
  touch();
  // Cluster mode: each ack is sent once the replica's writes so far are settled, in order (one
  // chain per socket); a write given up (503) or a race lost to another node (409) fails the socket.
  const replica = core.store.replica;
  const lostBefore = replica?.racesLostOn(rec.id) ?? 0;
  let acked: Promise<void> = Promise.resolve();
  const whenHeld = (send: () => void) => {
    if (!replica) return send();
    acked = acked.then(async () => {
      await replica.settled(rec.id);
      if (replica.racesLostOn(rec.id) > lostBefore) throw lostRaceError();
      send();
    });
    acked.catch(fail);
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (done) return;
    touch();
    if (isBinary) {
      try {
        session.push(toBytes(data));
        const ack = JSON.stringify({
          type: 'ack',
          offset: rec.byteLength,
          blocks: rec.blockCount,
        } satisfies UploadServerMessage);
        whenHeld(() => {
          if (!done) ws.send(ack);
        });
      } catch (err) {
        fail(err);
      }
      return;
    }
    let msg: { type?: unknown };
    try {
      msg = JSON.parse(toBytes(data).toString()) as { type?: unknown };
    } catch {
      return fail(new RelayError('M_BAD_JSON', 'text message is not JSON'));
    }
    if (msg.type !== 'finish') return;
    session.finish().then(
      () =>
        whenHeld(() => {
          if (done) return;
          done = true;
          ws.send(
            JSON.stringify({
              type: 'complete',
              sha256: rec.sha256 ?? '',
              offset: rec.byteLength,
              blocks: rec.blockCount,
            } satisfies UploadServerMessage),
          );
          ws.close(1000, 'complete');
        }),
      (err) => fail(err),
    );
  });
  ws.on('close', () => {
    if (idle) clearTimeout(idle);
    session.close();
  });
  ws.on('error', () => session.close());
}

function toBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * The broadcaster side of a fan-out run: sends the stream in real time, one block (relay) or
 * one Ogg page (Icecast) per preset interval, over one raw socket, and records each unit's
 * send time in shared memory so listeners in another thread compute delays against it.
 * - relay: a streaming `PUT /_matrix/media/v3/upload/{S}/{ID}` with a chunked body
 *   (docs/protocol.md "Streaming PUT"): the magic, then MSC4016 blocks.
 * - Icecast 2.4: an HTTP `PUT /mount` source (Icecast ≥ 2.4.0 accepts PUT with basic auth
 *   source:<password>), raw Ogg Opus pages; the data follows Icecast's `200 OK`.
 */
import net from 'node:net';
import { BenchStream } from './bench-stream.ts';
import type { FanoutPreset } from './fanout-presets.ts';
import { monotonicMs } from './monotonic-clock.ts';

export interface UploadTarget {
  server: 'relay' | 'icecast';
  port: number;
  path: string;
  /** relay: `Bearer <token>`; Icecast: `Basic <base64(source:password)>`. */
  authorization: string;
}

/** Shared-memory slots: [0] units sent, [1] stop flag, [2] error flag. */
export const SENT = 0;
export const STOP = 1;
export const FAILED = 2;

export class UploadError extends Error {
  readonly code = 'UPLOAD_FAILED' as const;
}

export interface UploaderShared {
  sendTimes: Float64Array;
  control: Int32Array;
}

/** Streams until the stop flag is set or the send-time table is full; rejects on any failure. */
export async function runUploader(
  target: UploadTarget,
  preset: FanoutPreset,
  shared: UploaderShared,
): Promise<number> {
  const relay = target.server === 'relay';
  const stream = await BenchStream.open(preset, relay);
  const socket = await openSocket(target.port);
  socket.setNoDelay(true);
  let failure: Error | null = null;
  let response = '';
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      response += d.toString('latin1');
      if (!relay && /^HTTP\/1\.[01] 200/.test(response)) resolve();
      else if (relay || /^HTTP\/1\.[01] [^2]/.test(response)) {
        failure ??= new UploadError(
          `${target.server} answered the upload: ${response.slice(0, 300)}`,
        );
        resolve();
      }
    });
    socket.on('error', (err) => {
      failure ??= new UploadError(`upload socket: ${err.message}`);
      resolve();
    });
    socket.on('close', () => {
      failure ??= new UploadError(`${target.server} closed the upload: ${response.slice(0, 300)}`);
      resolve();
    });
  });
  socket.write(
    `PUT ${target.path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n` +
      `Authorization: ${target.authorization}\r\n` +
      (relay
        ? 'Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n'
        : 'Content-Type: application/ogg\r\nIce-Public: 0\r\nIce-Name: mxcast fanout bench\r\n\r\n'),
  );
  if (!relay) await answered;
  // The next unit is encoded ahead, so at its due time it only has to be written.
  let ready = stream.next();
  const send = async (): Promise<number> => {
    const seq = stream.nextSeq - 1;
    const unit = await ready;
    ready = stream.next();
    const frame = relay
      ? Buffer.concat([Buffer.from(`${unit.length.toString(16)}\r\n`), unit, Buffer.from('\r\n')])
      : unit;
    shared.sendTimes[seq] = monotonicMs();
    socket.write(frame);
    Atomics.store(shared.control, SENT, seq + 1);
    return seq + 1;
  };
  const capacity = shared.sendTimes.length;
  let seq = await send(); // OpusHead and OpusTags go at once, as a broadcaster's first pages do
  seq = await send();
  const t0 = monotonicMs();
  while (failure === null && Atomics.load(shared.control, STOP) === 0 && seq < capacity) {
    const due = t0 + (seq - 2) * preset.blockIntervalMs;
    const wait = due - monotonicMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 50)));
    else seq = await send();
  }
  await ready.catch(() => undefined);
  socket.destroy();
  if (failure) {
    Atomics.store(shared.control, FAILED, 1);
    throw failure;
  }
  return seq;
}

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

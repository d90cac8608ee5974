/**
 * Times one HTTP GET on a fresh connection (no keep-alive: each download is a newcomer's):
 * time to the response's first body byte and to its end, and the bytes received. Used the same
 * way for the relay and for the raw file server, so the ratio is the servers'.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';

export interface DownloadTiming {
  status: number;
  firstByteMs: number;
  totalMs: number;
  bytes: number;
  /** base64 SHA-256 of the body, when asked for (it costs CPU, so not on timed runs). */
  sha256?: string;
}

export interface DownloadOptions {
  range?: string;
  /** Stop after the first body byte (open-ended live Range requests never end). */
  firstByteOnly?: boolean;
  hash?: boolean;
  timeoutMs?: number;
}

export class DownloadError extends Error {
  readonly code = 'DOWNLOAD_FAILED' as const;
}

export function timeDownload(url: string, options: DownloadOptions = {}): Promise<DownloadTiming> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const hash = options.hash ? createHash('sha256') : null;
    const req = http.get(
      url,
      { agent: false, headers: options.range ? { range: options.range } : {} },
      (res) => {
        let firstByteMs = Number.NaN;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) firstByteMs = performance.now() - t0;
          bytes += chunk.length;
          hash?.update(chunk);
          if (options.firstByteOnly) {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, firstByteMs, totalMs: firstByteMs, bytes });
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            firstByteMs,
            totalMs: performance.now() - t0,
            bytes,
            ...(hash ? { sha256: hash.digest('base64') } : {}),
          });
        });
        res.on('error', (err) => reject(new DownloadError(`${url}: ${err.message}`)));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new DownloadError(`${url}: not done within ${options.timeoutMs ?? 60_000} ms`));
    }, options.timeoutMs ?? 60_000);
    req.on('close', () => clearTimeout(timer));
    // After a first-byte-only resolve, the destroy's error is moot: a promise settles once.
    req.on('error', (err) => reject(new DownloadError(`${url}: ${err.message}`)));
  });
}

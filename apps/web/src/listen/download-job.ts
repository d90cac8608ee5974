/**
 * Downloading the recording (docs/web.md "Download the recording"), the page's side: registers
 * the download service worker (download-sw.ts), hands it one job — the relay's download URL,
 * the key and the Matrix token — and navigates a hidden iframe to the job's one-use URL, whose
 * answer (`Content-Disposition: attachment`) the browser saves as a download.
 */
import type { EncryptedFile, Epoch } from '@mxcast/format';

export const DOWNLOAD_PREFIX = '/__mxcast_download/';
export const DOWNLOAD_SW_URL = '/download-sw.js';

export interface DownloadJob {
  /** The relay's MSC3916 download URL of the media (the ciphertext). */
  url: string;
  file: EncryptedFile;
  accessToken?: string;
  /**
   * The key epochs of a room broadcast (docs/matrix.md "Key epochs"), when it has more than
   * one: the worker decrypts each block under its epoch's key (a ScheduleCipher).
   */
  epochs?: Epoch[];
  /** The file name the browser saves (`….opus`). */
  name: string;
}

/** Whether this browser can stream a download through a service worker. */
export function downloadSupported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && isSecureContext;
}

/** A file name from a title: letters, digits, dashes; never empty. */
export function recordingName(title: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/[^\w\- ]+/g, '')
    .trim()
    .replace(/\s+/g, '-')
    .slice(0, 80);
  return `${base || 'broadcast'}.opus`;
}

export async function startDownload(job: DownloadJob): Promise<void> {
  const registration = await navigator.serviceWorker.register(DOWNLOAD_SW_URL, {
    type: 'module',
    scope: '/',
  });
  await navigator.serviceWorker.ready;
  const worker = registration.active;
  if (!worker) throw new Error('the download worker did not start');
  const id = crypto.randomUUID();
  const channel = new MessageChannel();
  const accepted = new Promise<void>((resolve) => {
    channel.port1.onmessage = () => resolve();
  });
  worker.postMessage({ type: 'download', id, job }, [channel.port2]);
  await accepted;
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.src = `${DOWNLOAD_PREFIX}${id}/${encodeURIComponent(job.name)}`;
  document.body.append(frame);
  // The download outlives the frame once the browser has its response.
  setTimeout(() => frame.remove(), 60_000);
}

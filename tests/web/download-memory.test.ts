/**
 * The web app's download is streamed (docs/web.md "Download the recording"): a finished 4-hour
 * recording (~57 MB of the Voice preset, made in seconds by bench/web/long-recording.ts and
 * uploaded to a real relay) is downloaded from the listen page in Chromium through the download
 * service worker, while what the page and the worker hold is sampled (CDP: JS heap, Blink's heap
 * and ArrayBuffer backing stores, after a forced collection). Their peaks must stay far below
 * the file (under a quarter of it): a download that gathered the file, or read the relay's
 * answer ahead of the file being written (one fetch's body did: ~35 MB of the 57 held in the
 * worker), would hold much of it. The file itself is whole: its size, Ogg Opus clean (opusinfo),
 * as long as what was uploaded (ffprobe).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureDownload } from '../../bench/web/download-memory.ts';
import { uploadLongRecording } from '../../bench/web/long-recording.ts';
import { startWebRig, type WebRig } from './web-harness.ts';

/** 4 hours of Voice (32 kbit/s in 240 ms blocks): ~57 MB of ciphertext. */
const SECONDS = 4 * 3600;

let rig: WebRig;
let work: string;

beforeAll(async () => {
  rig = await startWebRig();
  work = mkdtempSync(join(tmpdir(), 'mxcast-download-memory-'));
}, 60_000);

afterAll(async () => {
  await rig?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('streamed download memory', () => {
  it('downloads a 4-hour recording, the page and the worker holding far less than its size', async () => {
    const recording = await uploadLongRecording(rig.relay.url, rig.token, SECONDS, {
      title: 'Long show',
    });
    expect(recording.bytes).toBeGreaterThan(55e6);
    const saved = join(work, 'long.opus');
    const m = await measureDownload(rig, recording.link, { saveAs: saved });
    console.log(`download of ${(recording.bytes / 1e6).toFixed(1)} MB: ${JSON.stringify(m)}`);

    // The plaintext is the ciphertext less the magic and each block's header and GCM tag.
    expect(m.fileBytes).toBe(recording.oggBytes);
    const info = execFileSync('opusinfo', [saved], { encoding: 'utf8' });
    expect(info).not.toMatch(/WARNING|ERROR/);
    const seconds = Number(
      execFileSync(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', saved],
        { encoding: 'utf8' },
      ),
    );
    expect(Math.abs(seconds - recording.seconds)).toBeLessThan(1);

    const fileMb = m.fileBytes / 1024 / 1024;
    // The worker was reached (its heap read), and neither it nor the page came near holding
    // the file (measured: the worker ~2-5 MB at its peak, one 1 MB range and blocks in flight).
    expect(m.swLiveHeapPeakMb).not.toBeNull();
    expect(m.swLiveHeapPeakMb!).toBeLessThan(fileMb / 4);
    expect(m.pageHeapPeakMb - m.pageHeapBeforeMb).toBeLessThan(fileMb / 4);
  });
});
